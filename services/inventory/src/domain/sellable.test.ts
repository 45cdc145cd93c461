import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { isSellable, lineTitle } from "./sellable.ts";

describe("isSellable", () => {
  test.prop([fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean()])(
    "is true only when vendor, product and variant are active and the product is not archived",
    (vendorActive, productActive, archived, variantActive) => {
      expect(isSellable({ vendorActive, productActive, archived, variantActive })).toBe(
        vendorActive && productActive && !archived && variantActive,
      );
    },
  );
});

describe("lineTitle", () => {
  it("joins the product and variant titles, or keeps the product's alone", () => {
    expect(lineTitle("T-shirt", "Red / M")).toBe("T-shirt - Red / M");
    expect(lineTitle("T-shirt", null)).toBe("T-shirt");
  });
});
