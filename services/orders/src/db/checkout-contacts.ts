import type { ShippingAddress, TxSql } from "@codflow/shared";

/**
 * Keeps a checkout's phone, address and email until its order is made from them, in one
 * statement. Nothing is kept for a checkout that already has its order or already failed (a
 * re-driven `checkout.requested` arriving late): the row would only outlive its use. The first
 * copy wins; a checkout's contact details never change.
 */
export async function keepCheckoutContacts(
  tx: TxSql,
  contacts: {
    checkoutId: string;
    customerEmail: string | null;
    phone: string;
    shippingAddress: ShippingAddress;
  },
) {
  await tx`
    insert into checkout_contacts (checkout_id, customer_email, phone, shipping_address)
    select ${contacts.checkoutId}, ${contacts.customerEmail}, ${contacts.phone},
           ${JSON.stringify(contacts.shippingAddress)}::jsonb
    where not exists (select 1 from orders where checkout_id = ${contacts.checkoutId})
      and not exists (select 1 from voided_checkouts where checkout_id = ${contacts.checkoutId})
    on conflict (checkout_id) do nothing`;
}
