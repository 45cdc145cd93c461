import type { ConsumerSpec } from "@codflow/shared";
import { queueNotification } from "../db/notifications.ts";
import { renderOrderDelivered } from "../domain/lifecycle-templates.ts";
import { TEMPLATES } from "../domain/templates.ts";

/**
 * Queues the delivery receipt (the cash the courier collected) for the mailer, once per order.
 * Emits nothing and has nothing to undo.
 */
export function onOrdersDelivered(): ConsumerSpec<"orders.delivered"> {
  return {
    name: "notifier.order-delivered",
    type: "orders.delivered",
    async handle(event, tx) {
      await queueNotification(tx.sql, {
        eventId: event.id,
        checkoutId: event.data.checkoutId,
        template: TEMPLATES.orderDelivered,
        recipient: event.data.customerEmail,
        email: renderOrderDelivered(event.data),
      });
    },
  };
}
