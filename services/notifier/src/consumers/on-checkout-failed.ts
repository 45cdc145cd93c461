import type { ConsumerSpec } from "@codflow/shared";
import { queueNotification } from "../db/notifications.ts";
import { renderCheckoutFailed, TEMPLATES } from "../domain/templates.ts";

/**
 * Queues the email that tells the customer, in plain words, why their checkout failed, once per
 * checkout (even if its failure is re-emitted under a new event id). Emits nothing and has
 * nothing to undo.
 */
export function onCheckoutFailed(): ConsumerSpec<"checkout.failed"> {
  return {
    name: "notifier.checkout-failed",
    type: "checkout.failed",
    async handle(event, tx) {
      await queueNotification(tx.sql, {
        eventId: event.id,
        checkoutId: event.data.checkoutId,
        template: TEMPLATES.checkoutFailed,
        recipient: event.data.customerEmail,
        email: renderCheckoutFailed(event.data),
      });
    },
  };
}
