/**
 * checkout.on-inventory-committed — on `inventory.committed` (the stock is committed to a live
 * order: the saga's success signal): a checkout still processing becomes confirmed with the
 * order's id and number, and exactly the ordered quantities leave the cart (lines added, or
 * quantity added, since the checkout began stay).
 * Emits: `checkout.confirmed` (the customer is told).
 * Undone by: `orders.cancelled` cancels the order itself; the checkout stays the record that
 * an order was made. An outcome for a checkout already terminal is recorded, not applied (orders
 * cancels that order on the `checkout.failed` it already received).
 */
import type { ConsumerSpec } from "@codflow/shared";
import { markCheckoutConfirmed, removeOrderedCartLines } from "../db/checkout-outcomes.ts";
import { type OutcomeDeps, reportOutcomeNotApplied } from "./terminal-outcome.ts";

export function onInventoryCommitted(deps: OutcomeDeps): ConsumerSpec<"inventory.committed"> {
  return {
    name: "checkout.on-inventory-committed",
    type: "inventory.committed",
    async handle(event, tx) {
      const { checkoutId, orderId, orderNumber, items, totalMinor, currency } = event.data;
      const confirmed = await markCheckoutConfirmed(tx.sql, { checkoutId, orderId, orderNumber });
      if (!confirmed) {
        await reportOutcomeNotApplied(tx.sql, deps, { checkoutId, event, incoming: { orderId } });
        return;
      }
      tx.afterCommit(() => deps.metrics.settled("confirmed", "", Number(confirmed.ageSeconds)));
      await removeOrderedCartLines(tx.sql, checkoutId);
      await tx.emit({
        type: "checkout.confirmed",
        correlationId: checkoutId,
        data: {
          checkoutId,
          customerId: confirmed.customerId,
          customerEmail: confirmed.customerEmail,
          orderId,
          orderNumber,
          items,
          totalMinor,
          currency,
        },
      });
    },
  };
}
