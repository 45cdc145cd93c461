import type { ShippingAddress, TxSql } from "@codflow/shared";

export interface CheckoutContacts {
  checkoutId: string;
  customerEmail: string | null;
  phone: string;
  shippingAddress: ShippingAddress;
}

/**
 * Keeps checkouts' phone, address and email until their orders are made from them, all in one
 * statement (a batch of `checkout.requested` costs one round trip). Nothing is kept for a
 * checkout that already has its order or already failed (a re-driven `checkout.requested`
 * arriving late): the row would only outlive its use. The first copy wins, also within one
 * call (rows go in in the given order); a checkout's contact details never change.
 */
export async function keepCheckoutContacts(tx: TxSql, contacts: readonly CheckoutContacts[]) {
  await tx`
    insert into checkout_contacts (checkout_id, customer_email, phone, shipping_address)
    select c.checkout_id, c.customer_email, c.phone, c.shipping_address::jsonb
    from unnest(
      ${contacts.map((c) => c.checkoutId)}::uuid[],
      ${contacts.map((c) => c.customerEmail)}::text[],
      ${contacts.map((c) => c.phone)}::text[],
      ${contacts.map((c) => JSON.stringify(c.shippingAddress))}::text[]
    ) with ordinality as c(checkout_id, customer_email, phone, shipping_address, n)
    where not exists (select 1 from orders o where o.checkout_id = c.checkout_id)
      and not exists (select 1 from voided_checkouts v where v.checkout_id = c.checkout_id)
    order by c.n
    on conflict (checkout_id) do nothing`;
}
