import type { ConsumerSpec } from "@codflow/shared";
import { queueNotification } from "../db/notifications.ts";
import { renderOrderShipped } from "../domain/lifecycle-templates.ts";
import { TEMPLATES } from "../domain/templates.ts";

/**
 * Queues the "on its way" email (courier, waybill) for the mailer, once per order (an order
 * ships once). Emits nothing and has nothing to undo.
 */
export function onOrdersShipped(): ConsumerSpec<"orders.shipped"> {
  return {
    name: "notifier.order-shipped",
    type: "orders.shipped",
    async handle(event, tx) {
      await queueNotification(tx.sql, {
        eventId: event.id,
        checkoutId: event.data.checkoutId,
        template: TEMPLATES.orderShipped,
        recipient: event.data.customerEmail,
        email: renderOrderShipped(event.data),
      });
    },
  };
}
