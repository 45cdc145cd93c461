import type { EventData } from "@codflow/shared";
import { describe, expect, it } from "vitest";
import { checkReservedOrder } from "./reserved-order.ts";

const line = (qty: number, unitPriceMinor: number) => ({
  variantId: "0190f2a0-0000-7000-8000-000000000001",
  productSlug: "p",
  vendorId: "0190f2a0-0000-7000-8000-000000000002",
  sku: "s",
  title: "t",
  qty,
  unitPriceMinor,
});
const reserved = (lines: ReturnType<typeof line>[], totalMinor: number) =>
  ({ lines, totalMinor }) as EventData<"inventory.reserved">;

describe("checkReservedOrder", () => {
  it("accepts a total equal to the sum of qty × unit price over the lines", () => {
    expect(checkReservedOrder(reserved([line(2, 1250), line(1, 999)], 3499))).toEqual({ ok: true });
  });

  it("refuses a total that differs from the sum of the lines, naming both", () => {
    expect(checkReservedOrder(reserved([line(2, 1250)], 2499))).toEqual({
      ok: false,
      reason: "total 2499 is not the sum of the lines (2500)",
    });
  });

  it("refuses lines whose sum cannot be represented exactly", () => {
    const result = checkReservedOrder(reserved([line(3, Number.MAX_SAFE_INTEGER)], 0));
    expect(result.ok).toBe(false);
  });
});
