/** A cart line as it is now (possibly changed since the checkout started). */
export interface HeldCartLine {
  id: string;
  qty: number;
}

/** What a checkout took from a cart line. */
export interface OrderedCartLine {
  cartLineId: string;
  qty: number;
}

export interface CartLineRemoval {
  deleteIds: string[];
  updates: { id: string; qty: number }[];
}

/**
 * A confirmed order removes exactly what it ordered: each cart line loses the ordered quantity
 * and disappears at zero, so lines added, or quantity added, after the checkout began survive.
 * Lines the customer removed meanwhile are simply gone.
 */
export function removeOrderedQuantities(
  cartLines: readonly HeldCartLine[],
  ordered: readonly OrderedCartLine[],
): CartLineRemoval {
  const orderedQty = new Map<string, number>();
  for (const line of ordered) {
    orderedQty.set(line.cartLineId, (orderedQty.get(line.cartLineId) ?? 0) + line.qty);
  }
  const removal: CartLineRemoval = { deleteIds: [], updates: [] };
  for (const line of cartLines) {
    const taken = orderedQty.get(line.id);
    if (taken === undefined) continue;
    const left = line.qty - taken;
    if (left > 0) removal.updates.push({ id: line.id, qty: left });
    else removal.deleteIds.push(line.id);
  }
  return removal;
}
