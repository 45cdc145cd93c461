import type { ConsumerSpec, EventOf } from "@codflow/shared";
import { type NewNotification, queueNotifications } from "../db/notifications.ts";
import { renderOrderConfirmed, TEMPLATES } from "../domain/templates.ts";

/**
 * Queues the order-confirmed email (order number, items, total to pay on delivery) for the
 * mailer, once per checkout (even if its confirmation is re-emitted under a new event id); a
 * batch queues all its emails in one insert. Emits nothing: an email never changes an order or
 * a checkout, so there is nothing to undo.
 */
export function onCheckoutConfirmed(): ConsumerSpec<"checkout.confirmed"> {
  return {
    name: "notifier.checkout-confirmed",
    type: "checkout.confirmed",
    handle: (event, tx) => queueNotifications(tx.sql, [orderConfirmedEmail(event)]),
    handleBatch: (events, tx) => queueNotifications(tx.sql, events.map(orderConfirmedEmail)),
  };
}

const orderConfirmedEmail = (event: EventOf<"checkout.confirmed">): NewNotification => ({
  eventId: event.id,
  checkoutId: event.data.checkoutId,
  template: TEMPLATES.orderConfirmed,
  recipient: event.data.customerEmail,
  email: renderOrderConfirmed(event.data),
});
