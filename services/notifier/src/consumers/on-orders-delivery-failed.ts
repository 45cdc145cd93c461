import type { ConsumerSpec } from "@codflow/shared";
import { queueNotification } from "../db/notifications.ts";
import { renderDeliveryFailed } from "../domain/lifecycle-templates.ts";
import { TEMPLATES } from "../domain/templates.ts";

/**
 * Queues the failed-delivery email (why, and what happens next) for the mailer, once per failed
 * attempt: an order may fail several times, so the email is keyed by the event alone (no
 * checkout id: the per-checkout guard would swallow the second attempt's email). Emits nothing
 * and has nothing to undo.
 */
export function onOrdersDeliveryFailed(): ConsumerSpec<"orders.delivery_failed"> {
  return {
    name: "notifier.delivery-failed",
    type: "orders.delivery_failed",
    async handle(event, tx) {
      await queueNotification(tx.sql, {
        eventId: event.id,
        checkoutId: null,
        template: TEMPLATES.deliveryFailed,
        recipient: event.data.customerEmail,
        email: renderDeliveryFailed(event.data),
      });
    },
  };
}
