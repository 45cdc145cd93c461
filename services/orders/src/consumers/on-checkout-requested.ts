import type { ConsumerSpec } from "@codflow/shared";
import { keepCheckoutContacts } from "../db/checkout-contacts.ts";
import { lockCheckout } from "../db/checkout-lock.ts";

/**
 * Keeps the phone, shipping address and email of a new checkout (`checkout.requested` is the
 * only event that carries them) until `inventory.reserved` makes the order from them
 * (`orders.create-order` deletes the row then) or the checkout fails (`orders.abort-checkout`
 * deletes it). Emits nothing; nothing undoes it but those two.
 */
export function onCheckoutRequested(): ConsumerSpec<"checkout.requested"> {
  return {
    name: "orders.keep-checkout-contacts",
    type: "checkout.requested",
    async handle({ data }, tx) {
      // Under the checkout's lock, the statement sees an order or abort committed just before.
      await lockCheckout(tx.sql, data.checkoutId);
      await keepCheckoutContacts(tx.sql, {
        checkoutId: data.checkoutId,
        customerEmail: data.customerEmail,
        phone: data.phone,
        shippingAddress: data.shippingAddress,
      });
    },
  };
}
