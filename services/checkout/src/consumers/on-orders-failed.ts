/**
 * checkout.on-orders-failed — on `orders.failed`: a checkout still processing fails with
 * `order_failed` (orders' message as detail); the cart is kept as it is.
 * Emits: `checkout.failed` (the customer is told).
 * Undone by: nothing — failed is final; inventory releases the reservation on the same event.
 * An outcome for a checkout already terminal is not applied, only reported.
 */
import type { ConsumerSpec, Logger } from "@codflow/shared";
import { markCheckoutFailed } from "../db/checkout-outcomes.ts";
import { reportOutcomeNotApplied } from "./terminal-outcome.ts";

export function onOrdersFailed({ logger }: { logger: Logger }): ConsumerSpec<"orders.failed"> {
  return {
    name: "checkout.on-orders-failed",
    type: "orders.failed",
    async handle(event, tx) {
      const { checkoutId, detail } = event.data;
      const failed = await markCheckoutFailed(tx.sql, {
        checkoutId,
        reason: "order_failed",
        detail,
      });
      if (!failed) {
        await reportOutcomeNotApplied(tx.sql, logger, {
          checkoutId,
          incoming: { type: event.type, eventId: event.id, reason: "order_failed" },
        });
        return;
      }
      await tx.emit({
        type: "checkout.failed",
        correlationId: checkoutId,
        data: {
          checkoutId,
          customerId: failed.customerId,
          customerEmail: failed.customerEmail,
          reason: "order_failed",
          detail: `We could not create your order: ${detail}`,
        },
      });
    },
  };
}
