import type { ConsumerSpec } from "@codflow/shared";
import { queueNotification } from "../db/notifications.ts";
import { renderOrderCancelled } from "../domain/lifecycle-templates.ts";
import { TEMPLATES } from "../domain/templates.ts";

/**
 * Queues the cancellation email for the mailer, once per order — unless the saga itself
 * cancelled the order (actor `system`: its checkout failed, and the checkout-failed email
 * already told the customer). Emits nothing and has nothing to undo.
 */
export function onOrdersCancelled(): ConsumerSpec<"orders.cancelled"> {
  return {
    name: "notifier.order-cancelled",
    type: "orders.cancelled",
    async handle(event, tx) {
      if (event.data.actorRole === "system") return;
      await queueNotification(tx.sql, {
        eventId: event.id,
        checkoutId: event.data.checkoutId,
        template: TEMPLATES.orderCancelled,
        recipient: event.data.customerEmail,
        email: renderOrderCancelled(event.data),
      });
    },
  };
}
