import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import type { RequestedLine, VariantOnSale } from "./reservation.ts";
import { planReservations, type ReservationRequest } from "./stock-allocation.ts";

const A = "0190a000-0000-7000-8000-00000000000a";
const B = "0190a000-0000-7000-8000-00000000000b";
const C = "0190a000-0000-7000-8000-00000000000c";

const line = (variantId: string, qty = 1, unitPriceMinor = 1000): RequestedLine => ({
  variantId,
  qty,
  unitPriceMinor,
  currency: "EUR",
});

const onSale = (variantId: string): [string, VariantOnSale] => [
  variantId,
  {
    variantId,
    priceMinor: 1000,
    currency: "EUR",
    vendorActive: true,
    productActive: true,
    archived: false,
    variantActive: true,
  },
];
const variants = new Map([onSale(A), onSale(B), onSale(C)]);

const request = (checkoutId: string, ...lines: RequestedLine[]): ReservationRequest => ({
  checkoutId,
  lines,
});

describe("planReservations", () => {
  it("reserves in delivery order until a variant runs short, then refuses out_of_stock with what is left", () => {
    const { decisions, free } = planReservations(
      [request("c1", line(A, 2)), request("c2", line(A, 2)), request("c3", line(A, 1))],
      variants,
      new Map([[A, 3]]),
    );

    expect(decisions).toEqual([
      { kind: "reserve", lines: [line(A, 2)] },
      {
        kind: "refuse",
        rejection: {
          reason: "out_of_stock",
          lines: [{ variantId: A, reason: "out_of_stock", requestedQty: 2, availableQty: 1 }],
        },
      },
      { kind: "reserve", lines: [line(A, 1)] },
    ]);
    expect(free.get(A)).toBe(0);
  });

  it("takes nothing from a checkout's other lines when one is short (all or none)", () => {
    const { decisions, free } = planReservations(
      [request("c1", line(A, 1), line(B, 5))],
      variants,
      new Map([
        [A, 4],
        [B, 2],
      ]),
    );

    expect(decisions[0]).toMatchObject({ kind: "refuse", rejection: { reason: "out_of_stock" } });
    expect(free).toEqual(
      new Map([
        [A, 4],
        [B, 2],
      ]),
    );
  });

  it("refuses an unsellable or mispriced checkout before looking at stock", () => {
    const { decisions, free } = planReservations(
      [request("c1", line("0190a000-0000-7000-8000-0000000000ff")), request("c2", line(A, 1, 900))],
      variants,
      new Map([[A, 5]]),
    );

    expect(decisions.map((d) => d.kind === "refuse" && d.rejection.reason)).toEqual([
      "product_unavailable",
      "price_changed",
    ]);
    expect(free.get(A)).toBe(5);
  });

  it("merges a repeated variant's lines before taking stock", () => {
    const { decisions } = planReservations(
      [request("c1", line(A, 2), line(A, 2))],
      variants,
      new Map([[A, 3]]),
    );

    expect(decisions[0]).toMatchObject({
      rejection: { lines: [{ variantId: A, requestedQty: 4, availableQty: 3 }] },
    });
  });

  it("reserves a checkout once when it asks twice in a batch; a refused one asks again", () => {
    const { decisions, free } = planReservations(
      [
        request("c1", line(A, 2)),
        request("c1", line(A, 2)),
        request("c2", line(A, 5)),
        request("c2", line(A, 1)),
      ],
      variants,
      new Map([[A, 3]]),
    );

    expect(decisions.map((d) => d.kind)).toEqual([
      "reserve",
      "already-reserved",
      "refuse",
      "reserve",
    ]);
    expect(free.get(A)).toBe(0);
  });

  /** The reference: what the one-message path did, one conditional update per checkout. */
  const reserveOneByOne = (requests: ReservationRequest[], stock: ReadonlyMap<string, number>) => {
    const left = new Map(stock);
    const outcomes = requests.map(({ lines }) => {
      const merged = new Map<string, number>();
      for (const l of lines) merged.set(l.variantId, (merged.get(l.variantId) ?? 0) + l.qty);
      const taken = [...merged].filter(([v, qty]) => (left.get(v) ?? 0) >= qty);
      if (taken.length < merged.size) return false;
      for (const [v, qty] of taken) left.set(v, (left.get(v) ?? 0) - qty);
      return true;
    });
    return { outcomes, left };
  };

  const stockArb = fc.tuple(fc.nat({ max: 12 }), fc.nat({ max: 12 }), fc.nat({ max: 12 })).map(
    ([a, b, c]) =>
      new Map([
        [A, a],
        [B, b],
        [C, c],
      ]),
  );
  const requestsArb = fc
    .array(
      fc.array(
        fc.record({ variant: fc.constantFrom(A, B, C), qty: fc.integer({ min: 1, max: 6 }) }),
        { minLength: 1, maxLength: 3 },
      ),
      { minLength: 1, maxLength: 30 },
    )
    .map((carts) =>
      carts.map((cart, i) => request(`c${i}`, ...cart.map((l) => line(l.variant, l.qty)))),
    );

  test.prop([stockArb, requestsArb])(
    "equals reserving each checkout alone in delivery order, all or none, never below zero",
    (stock, requests) => {
      const { decisions, free } = planReservations(requests, variants, stock);
      const expected = reserveOneByOne(requests, stock);

      expect(decisions.map((d) => d.kind === "reserve")).toEqual(expected.outcomes);
      expect(free).toEqual(expected.left);
      for (const units of free.values()) expect(units).toBeGreaterThanOrEqual(0);
      const taken = decisions.flatMap((d) => (d.kind === "reserve" ? d.lines : []));
      for (const [variant, units] of stock) {
        const reservedUnits = taken
          .filter((l) => l.variantId === variant)
          .reduce((sum, l) => sum + l.qty, 0);
        expect(reservedUnits + (free.get(variant) ?? 0)).toBe(units);
      }
    },
  );
});
