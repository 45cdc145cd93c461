import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import {
  checkSaleability,
  mergeLines,
  outOfStock,
  type RejectedLine,
  type RequestedLine,
  rejectionOf,
  type VariantOnSale,
} from "./reservation.ts";

const A = "0190a000-0000-7000-8000-00000000000a";
const B = "0190a000-0000-7000-8000-00000000000b";
const C = "0190a000-0000-7000-8000-00000000000c";

const line = (
  variantId: string,
  qty = 1,
  unitPriceMinor = 1000,
  currency = "EUR",
): RequestedLine => ({
  variantId,
  qty,
  unitPriceMinor,
  currency,
});

const onSale = (
  variantId: string,
  change: Partial<VariantOnSale> = {},
): [string, VariantOnSale] => [
  variantId,
  {
    variantId,
    priceMinor: 1000,
    currency: "EUR",
    vendorActive: true,
    productActive: true,
    archived: false,
    variantActive: true,
    ...change,
  },
];

describe("checkSaleability", () => {
  it("accepts lines whose variants are sellable at the price and currency the customer saw", () => {
    expect(checkSaleability([line(A), line(B)], new Map([onSale(A), onSale(B)]))).toBeUndefined();
  });

  it("refuses price_changed with the expected and current price, for a price or a currency change", () => {
    const variants = new Map([
      onSale(A, { priceMinor: 1200 }),
      onSale(B, { currency: "USD" }),
      onSale(C),
    ]);
    expect(checkSaleability([line(A), line(B), line(C)], variants)).toEqual({
      reason: "price_changed",
      lines: [
        {
          variantId: A,
          reason: "price_changed",
          expectedPriceMinor: 1000,
          currentPriceMinor: 1200,
        },
        {
          variantId: B,
          reason: "price_changed",
          expectedPriceMinor: 1000,
          currentPriceMinor: 1000,
        },
      ],
    });
  });

  it("refuses product_unavailable for an unknown, archived or switched-off variant, product or vendor", () => {
    const variants = new Map([
      onSale(A, { archived: true }),
      onSale(B, { vendorActive: false }),
      onSale(C, { priceMinor: 5 }),
    ]);
    const missing = "0190a000-0000-7000-8000-0000000000ff";
    expect(checkSaleability([line(A), line(B), line(C), line(missing)], variants)).toEqual({
      reason: "product_unavailable",
      lines: [
        { variantId: A, reason: "product_unavailable" },
        { variantId: B, reason: "product_unavailable" },
        { variantId: C, reason: "price_changed", expectedPriceMinor: 1000, currentPriceMinor: 5 },
        { variantId: missing, reason: "product_unavailable" },
      ],
    });
  });
});

describe("outOfStock", () => {
  it("lists each line the stock update did not take, with what was asked and what is left", () => {
    expect(
      outOfStock([line(A, 2), line(B, 3), line(C, 1)], new Set([A, C]), new Map([[B, 1]])),
    ).toEqual({
      reason: "out_of_stock",
      lines: [{ variantId: B, reason: "out_of_stock", requestedQty: 3, availableQty: 1 }],
    });
  });

  it("reports no stock left for a variant without a stock level", () => {
    expect(outOfStock([line(A, 2)], new Set(), new Map()).lines).toEqual([
      { variantId: A, reason: "out_of_stock", requestedQty: 2, availableQty: 0 },
    ]);
  });
});

describe("rejectionOf", () => {
  const reasons = fc.constantFrom<RejectedLine["reason"]>(
    "out_of_stock",
    "product_unavailable",
    "price_changed",
  );

  test.prop([fc.array(reasons, { minLength: 1, maxLength: 6 })])(
    "names the worst line reason: product_unavailable, then price_changed, then out_of_stock",
    (lineReasons) => {
      const rejection = rejectionOf(lineReasons.map((reason) => ({ variantId: A, reason })));
      const severity: RejectedLine["reason"][] = [
        "product_unavailable",
        "price_changed",
        "out_of_stock",
      ];
      const worst = severity.find((r) => lineReasons.includes(r));
      expect(rejection?.reason).toBe(worst);
      expect(rejection?.lines).toHaveLength(lineReasons.length);
    },
  );

  it("is undefined without refused lines", () => {
    expect(rejectionOf([])).toBeUndefined();
  });
});

describe("mergeLines", () => {
  it("keeps one line per variant, in first-seen order, with the quantities summed", () => {
    expect(mergeLines([line(A, 1), line(B, 2), line(A, 3)])).toEqual([line(A, 4), line(B, 2)]);
  });

  test.prop([
    fc.array(
      fc.record({ variant: fc.constantFrom(A, B, C), qty: fc.integer({ min: 1, max: 50 }) }),
    ),
  ])("never changes the total quantity of any variant", (raw) => {
    const lines = raw.map((r) => line(r.variant, r.qty));
    const total = (ls: RequestedLine[], id: string) =>
      ls.filter((l) => l.variantId === id).reduce((sum, l) => sum + l.qty, 0);
    const merged = mergeLines(lines);
    expect(new Set(merged.map((l) => l.variantId)).size).toBe(merged.length);
    for (const id of [A, B, C]) expect(total(merged, id)).toBe(total(lines, id));
  });
});
