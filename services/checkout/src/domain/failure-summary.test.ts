import { describe, expect, it } from "vitest";
import { describeRejection } from "./failure-summary.ts";

const variantId = "0190a0b0-0000-7000-8000-000000000001";

describe("describeRejection", () => {
  it("names each short line by its title with what was asked and what is left", () => {
    const summary = describeRejection(
      [{ variantId, reason: "out_of_stock", requestedQty: 3, availableQty: 1 }],
      new Map([[variantId, "Blue mug"]]),
    );
    expect(summary).toBe("We could not reserve your items: Blue mug: 3 requested, 1 available.");
  });

  it("falls back to the variant id and joins several lines", () => {
    const summary = describeRejection(
      [
        { variantId, reason: "product_unavailable" },
        { variantId, reason: "price_changed", expectedPriceMinor: 100, currentPriceMinor: 120 },
      ],
      new Map(),
    );
    expect(summary).toBe(
      `We could not reserve your items: item ${variantId} is no longer available; item ${variantId} changed price since it was added to the cart.`,
    );
  });
});
