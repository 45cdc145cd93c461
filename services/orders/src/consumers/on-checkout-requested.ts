import type { ConsumerSpec, EventOf, TxSql } from "@codflow/shared";
import { keepCheckoutContacts } from "../db/checkout-contacts.ts";
import { lockCheckouts } from "../db/checkout-lock.ts";

/**
 * Keeps the phone, shipping address and email of a new checkout (`checkout.requested` is the
 * only event that carries them) until `inventory.reserved` makes the order from them
 * (`orders.create-order` deletes the row then) or the checkout fails (`orders.abort-checkout`
 * deletes it). A batch keeps all its checkouts' details in the same two statements as one.
 * Emits nothing; nothing undoes it but those two.
 */
export function onCheckoutRequested(): ConsumerSpec<"checkout.requested"> {
  return {
    name: "orders.keep-checkout-contacts",
    type: "checkout.requested",
    handle: (event, tx) => keepContactsOf([event], tx.sql),
    handleBatch: (events, tx) => keepContactsOf(events, tx.sql),
  };
}

async function keepContactsOf(events: EventOf<"checkout.requested">[], sql: TxSql) {
  // Under the checkouts' locks, the insert sees an order or abort committed just before.
  await lockCheckouts(
    sql,
    events.map(({ data }) => data.checkoutId),
  );
  await keepCheckoutContacts(
    sql,
    events.map(({ data }) => ({
      checkoutId: data.checkoutId,
      customerEmail: data.customerEmail,
      phone: data.phone,
      shippingAddress: data.shippingAddress,
    })),
  );
}
