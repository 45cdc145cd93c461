/**
 * checkout.on-orders-confirmed — on `orders.confirmed`: a checkout still processing becomes
 * confirmed with the order's id and number, and exactly the ordered quantities leave the cart
 * (lines added, or quantity added, since the checkout began stay).
 * Emits: `checkout.confirmed` (the customer is told).
 * Undone by: `orders.cancelled` cancels the order itself; the checkout stays the record that
 * an order was made. An outcome for a checkout already terminal is not applied, only reported.
 */
import type { ConsumerSpec, Logger } from "@codflow/shared";
import { markCheckoutConfirmed, removeOrderedCartLines } from "../db/checkout-outcomes.ts";
import { reportOutcomeNotApplied } from "./terminal-outcome.ts";

export function onOrdersConfirmed({
  logger,
}: {
  logger: Logger;
}): ConsumerSpec<"orders.confirmed"> {
  return {
    name: "checkout.on-orders-confirmed",
    type: "orders.confirmed",
    async handle(event, tx) {
      const { checkoutId, orderId, orderNumber, items, totalMinor, currency } = event.data;
      const confirmed = await markCheckoutConfirmed(tx.sql, { checkoutId, orderId, orderNumber });
      if (!confirmed) {
        await reportOutcomeNotApplied(tx.sql, logger, {
          checkoutId,
          incoming: { type: event.type, eventId: event.id, orderId },
        });
        return;
      }
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
