import { describe, expect, it } from "vitest";
import { cartTotal, type PricedCartLine, snapshotCart } from "./cart.ts";

const line = (overrides: Partial<PricedCartLine> = {}): PricedCartLine => ({
  id: "line-1",
  variantId: "variant-1",
  qty: 2,
  unitPriceMinor: 1_50,
  currency: "EUR",
  sellable: true,
  ...overrides,
});

describe("cartTotal", () => {
  it("sums qty × unit price of every line", () => {
    expect(cartTotal([line(), line({ id: "line-2", qty: 1, unitPriceMinor: 10_00 })])).toEqual({
      totalMinor: 13_00,
      currency: "EUR",
    });
  });

  it("has no currency for an empty cart or a cart in several currencies", () => {
    expect(cartTotal([])).toEqual({ totalMinor: 0, currency: null });
    expect(cartTotal([line(), line({ id: "line-2", currency: "USD" })])).toEqual({
      totalMinor: 0,
      currency: null,
    });
  });
});

describe("snapshotCart", () => {
  it("takes every line with its total", () => {
    expect(snapshotCart([line()])).toEqual({
      ok: true,
      lines: [line()],
      totalMinor: 3_00,
      currency: "EUR",
    });
  });

  it("refuses an empty cart", () => {
    expect(snapshotCart([])).toEqual({ ok: false, refusal: "cart-empty" });
  });

  it("refuses a cart holding a variant that is no longer sellable, naming it", () => {
    expect(
      snapshotCart([line(), line({ id: "line-2", variantId: "gone", sellable: false })]),
    ).toEqual({ ok: false, refusal: "variant-unavailable", variantIds: ["gone"] });
  });

  it("refuses a cart in several currencies", () => {
    expect(snapshotCart([line(), line({ id: "line-2", currency: "USD" })])).toEqual({
      ok: false,
      refusal: "currency-mismatch",
      currencies: ["EUR", "USD"],
    });
  });
});
