import type { ConsumerSpec, Logger } from "@codflow/shared";
import { abortCheckout } from "../db/abort-checkout.ts";
import { lockCheckouts } from "../db/checkout-lock.ts";
import type { OrdersMetrics } from "../metrics.ts";

/**
 * Honours the abort signal of a failed checkout (the saga's compensation in orders). Its
 * `confirmed` order becomes `cancelled` (audit row by `system`, reason
 * `checkout_failed:<reason>`) and `orders.cancelled` (actor `system`, so the notifier sends no
 * second email) tells inventory to give the stock back. A
 * checkout with no order yet gets a tombstone in `voided_checkouts`: its late
 * `inventory.reserved` then makes no order but `orders.failed`, which releases the reservation.
 * An order already past `confirmed` is left alone with a warning (the delivery lifecycle owns
 * it). Runs under the checkout's lock, so it never misses an order being created concurrently.
 * Nothing undoes it: a failed checkout stays failed.
 */
export function onCheckoutFailed({
  logger,
  metrics,
}: {
  logger: Logger;
  /** Counts `codflow_order_transitions_total{from,to}` after commit when given. */
  metrics?: OrdersMetrics;
}): ConsumerSpec<"checkout.failed"> {
  return {
    name: "orders.abort-checkout",
    type: "checkout.failed",
    async handle({ data }, tx) {
      const cancelReason = `checkout_failed:${data.reason}`;
      await lockCheckouts(tx.sql, [data.checkoutId]);
      const result = await abortCheckout(tx.sql, {
        checkoutId: data.checkoutId,
        failureReason: data.reason,
        cancelReason,
      });
      if (result.outcome === "cancelled") {
        tx.afterCommit(() => metrics?.transitions.inc({ from: "confirmed", to: "cancelled" }));
        await tx.emit({
          type: "orders.cancelled",
          correlationId: data.checkoutId,
          data: {
            orderId: result.orderId,
            orderNumber: result.orderNumber,
            checkoutId: data.checkoutId,
            reservationId: result.reservationId,
            customerId: result.customerId,
            customerEmail: result.customerEmail,
            actorRole: "system",
            at: result.at,
            reason: cancelReason,
          },
        });
      } else if (result.outcome === "untouched") {
        logger.warn(
          { checkoutId: data.checkoutId, orderId: result.orderId, status: result.status },
          "checkout failed but its order is no longer confirmed; order left as it is",
        );
      }
    },
  };
}
