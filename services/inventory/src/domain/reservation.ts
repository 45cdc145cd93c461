import type { EventData } from "@codflow/shared";
import { isSellable, type SaleFlags } from "./sellable.ts";

export type RequestedLine = EventData<"checkout.requested">["lines"][number];
export type Rejection = Omit<EventData<"inventory.rejected">, "checkoutId">;
export type RejectedLine = Rejection["lines"][number];
type RejectionReason = Rejection["reason"];

/** What the reservation needs to know about a variant it found (and locked). */
export interface VariantOnSale extends SaleFlags {
  variantId: string;
  priceMinor: number;
  currency: string;
}

/** The reason a whole checkout is refused: the worst of its lines' reasons. */
const SEVERITY: readonly RejectionReason[] = [
  "product_unavailable",
  "price_changed",
  "out_of_stock",
];

export function rejectionOf(lines: RejectedLine[]): Rejection | undefined {
  const reason = SEVERITY.find((r) => lines.some((l) => l.reason === r));
  return reason ? { reason, lines } : undefined;
}

/**
 * Lines for the same variant become one: a cart keeps one line per variant, but a repeated one
 * must neither double-book nor break the (reservation, variant) key. Order is kept.
 */
export function mergeLines(lines: RequestedLine[]): RequestedLine[] {
  const byVariant = new Map<string, RequestedLine>();
  for (const line of lines) {
    const seen = byVariant.get(line.variantId);
    byVariant.set(line.variantId, seen ? { ...seen, qty: seen.qty + line.qty } : line);
  }
  return [...byVariant.values()];
}

/**
 * Refuses the lines whose variant is gone or not sellable (product_unavailable) or whose price
 * or currency is not the one the customer saw (price_changed); undefined when all may be sold.
 */
export function checkSaleability(
  lines: RequestedLine[],
  variants: ReadonlyMap<string, VariantOnSale>,
): Rejection | undefined {
  const refused: RejectedLine[] = [];
  for (const line of lines) {
    const variant = variants.get(line.variantId);
    if (!variant || !isSellable(variant)) {
      refused.push({ variantId: line.variantId, reason: "product_unavailable" });
    } else if (variant.priceMinor !== line.unitPriceMinor || variant.currency !== line.currency) {
      refused.push({
        variantId: line.variantId,
        reason: "price_changed",
        expectedPriceMinor: line.unitPriceMinor,
        currentPriceMinor: variant.priceMinor,
      });
    }
  }
  return rejectionOf(refused);
}

/** The lines the stock update could not take, each with what was asked and what is left. */
export function outOfStock(
  lines: RequestedLine[],
  taken: ReadonlySet<string>,
  availableQty: ReadonlyMap<string, number>,
): Rejection {
  return {
    reason: "out_of_stock",
    lines: lines
      .filter((line) => !taken.has(line.variantId))
      .map((line) => ({
        variantId: line.variantId,
        reason: "out_of_stock" as const,
        requestedQty: line.qty,
        availableQty: Math.max(0, availableQty.get(line.variantId) ?? 0),
      })),
  };
}
