import type { ConsumerSpec } from "@codflow/shared";
import { queueNotification } from "../db/notifications.ts";
import { renderCheckoutFailed, TEMPLATES } from "../domain/templates.ts";

/**
 * Queues the email that tells the customer, in plain words, why their checkout failed, once per
 * event. Emits nothing and has nothing to undo.
 */
export function onCheckoutFailed(): ConsumerSpec<"checkout.failed"> {
  return {
    name: "notifier.checkout-failed",
    type: "checkout.failed",
    async handle(event, tx) {
      await queueNotification(tx.sql, {
        eventId: event.id,
        template: TEMPLATES.checkoutFailed,
        recipient: event.data.customerEmail,
        email: renderCheckoutFailed(event.data),
      });
    },
  };
}
