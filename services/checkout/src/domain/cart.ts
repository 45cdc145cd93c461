/** A cart line priced from the catalog replica. */
export interface PricedCartLine {
  id: string;
  variantId: string;
  qty: number;
  unitPriceMinor: number;
  currency: string;
  sellable: boolean;
}

export interface CartTotal {
  totalMinor: number;
  /** null for an empty cart, or for lines in different currencies (which have no total). */
  currency: string | null;
}

export function cartTotal(lines: readonly PricedCartLine[]): CartTotal {
  const currencies = new Set(lines.map((l) => l.currency));
  const [currency] = currencies;
  if (currency === undefined || currencies.size > 1) return { totalMinor: 0, currency: null };
  return { totalMinor: lines.reduce((sum, l) => sum + l.qty * l.unitPriceMinor, 0), currency };
}

export type CartSnapshot =
  | { ok: true; lines: PricedCartLine[]; totalMinor: number; currency: string }
  | { ok: false; refusal: "cart-empty" }
  | { ok: false; refusal: "variant-unavailable"; variantIds: string[] }
  | { ok: false; refusal: "currency-mismatch"; currencies: string[] };

/** What a checkout takes from the cart: every line, all sellable, in one currency. */
export function snapshotCart(lines: readonly PricedCartLine[]): CartSnapshot {
  if (lines.length === 0) return { ok: false, refusal: "cart-empty" };
  const unavailable = lines.filter((l) => !l.sellable).map((l) => l.variantId);
  if (unavailable.length > 0) {
    return { ok: false, refusal: "variant-unavailable", variantIds: unavailable };
  }
  const { totalMinor, currency } = cartTotal(lines);
  if (currency === null) {
    return {
      ok: false,
      refusal: "currency-mismatch",
      currencies: [...new Set(lines.map((l) => l.currency))],
    };
  }
  return { ok: true, lines: [...lines], totalMinor, currency };
}
