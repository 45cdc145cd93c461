import {
  checkSaleability,
  mergeLines,
  outOfStock,
  type Rejection,
  type RequestedLine,
  type VariantOnSale,
} from "./reservation.ts";

export interface ReservationRequest {
  checkoutId: string;
  lines: RequestedLine[];
}

/**
 * What one checkout.requested of a batch gets: its lines reserved (merged per variant), a
 * refusal, or nothing because an earlier request of the same checkout in the batch reserved.
 */
export type ReservationDecision =
  | { kind: "reserve"; lines: RequestedLine[] }
  | { kind: "refuse"; rejection: Rejection }
  | { kind: "already-reserved" };

/**
 * Decides a batch of reservation requests in delivery order exactly as reserving them one by
 * one would: each checkout gets every line or none (unsellable or mispriced lines refuse it
 * first), free units only ever go down, and a checkout reserved earlier in the batch is not
 * reserved again. `free` is the stock free per variant under the batch's row locks; the
 * returned `free` is what is left.
 */
export function planReservations(
  requests: readonly ReservationRequest[],
  variants: ReadonlyMap<string, VariantOnSale>,
  free: ReadonlyMap<string, number>,
): { decisions: ReservationDecision[]; free: Map<string, number> } {
  const left = new Map(free);
  const reserved = new Set<string>();
  const decisions = requests.map((request): ReservationDecision => {
    if (reserved.has(request.checkoutId)) return { kind: "already-reserved" };
    const unsellable = checkSaleability(request.lines, variants);
    if (unsellable) return { kind: "refuse", rejection: unsellable };
    const lines = mergeLines(request.lines);
    const fits = new Set(
      lines.filter((l) => (left.get(l.variantId) ?? 0) >= l.qty).map((l) => l.variantId),
    );
    if (fits.size < lines.length) {
      return { kind: "refuse", rejection: outOfStock(lines, fits, left) };
    }
    for (const line of lines) left.set(line.variantId, (left.get(line.variantId) ?? 0) - line.qty);
    reserved.add(request.checkoutId);
    return { kind: "reserve", lines };
  });
  return { decisions, free: left };
}
