import { OUTBOX_CHANNEL, type ReservedLine, type TxSql } from "@codflow/shared";

export interface NewOrder {
  id: string;
  checkoutId: string;
  reservationId: string;
  customerId: string;
  totalMinor: number;
  currency: string;
  lines: ReservedLine[];
  /** Recorded on the first audit row (who asked for the order and why). */
  audit: Record<string, unknown>;
}

/**
 * What `insertOrder` did: made the order, found the checkout's order, found it voided, or found
 * no contact details for it yet (its `checkout.requested` has not been consumed here yet).
 */
export type InsertOrderResult =
  | { outcome: "created"; id: string; number: string }
  | { outcome: "exists" }
  | { outcome: "voided" }
  | { outcome: "contacts-missing" };

/**
 * Inserts the order, ALL its items and its first audit row in one statement: one round trip,
 * and no state where an order exists without its lines. `on conflict (checkout_id) do nothing`
 * makes a second order for a checkout impossible, whatever the broker redelivers (`exists`). A
 * checkout in `voided_checkouts` (it failed before its reservation arrived) gets no order
 * (`voided`); the caller must hold `lockCheckout` so an abort cannot commit its tombstone
 * unseen while this runs. The order number comes from a sequence (`CF-000001`, wider once past
 * a million). The phone, address and email come from the checkout's `checkout_contacts` row,
 * which the same statement deletes once the order holds them; without that row no order is
 * made (`contacts-missing`). A missing vendor in the replica fails the statement with a
 * foreign-key violation on `order_items_vendor_id_vendors_id_fk`.
 */
export async function insertOrder(tx: TxSql, order: NewOrder): Promise<InsertOrderResult> {
  const { lines } = order;
  const [row] = await tx<
    {
      id: string | null;
      number: string | null;
      voided: boolean;
      exists: boolean;
    }[]
  >`
    with voided as (
      select 1 from voided_checkouts where checkout_id = ${order.checkoutId}
    ),
    contacts as (
      select customer_email, phone, shipping_address from checkout_contacts
      where checkout_id = ${order.checkoutId}
    ),
    o as (
      insert into orders (id, number, checkout_id, reservation_id, customer_id, status,
                          total_minor, currency, payment_method, phone, shipping_address,
                          customer_email)
      select ${order.id}, 'CF-' || lpad(n::text, greatest(6, length(n::text)), '0'),
             ${order.checkoutId}, ${order.reservationId}, ${order.customerId}, 'confirmed',
             ${order.totalMinor}, ${order.currency}, 'cod', c.phone, c.shipping_address,
             c.customer_email
      from contacts c,
           (select nextval('order_number_seq') as n where not exists (select 1 from voided)) as s
      on conflict (checkout_id) do nothing
      returning id, number
    ),
    items as (
      insert into order_items (order_id, line_no, variant_id, product_slug, vendor_id, sku, title,
                               qty, unit_price_minor)
      select o.id, l.line_no, l.variant_id, l.product_slug, l.vendor_id, l.sku, l.title, l.qty,
             l.unit_price_minor
      from o, unnest(
        ${lines.map((_, i) => i + 1)}::int[],
        ${lines.map((l) => l.variantId)}::uuid[],
        ${lines.map((l) => l.productSlug)}::text[],
        ${lines.map((l) => l.vendorId)}::uuid[],
        ${lines.map((l) => l.sku)}::text[],
        ${lines.map((l) => l.title)}::text[],
        ${lines.map((l) => l.qty)}::int[],
        ${lines.map((l) => l.unitPriceMinor)}::bigint[]
      ) as l(line_no, variant_id, product_slug, vendor_id, sku, title, qty, unit_price_minor)
    ),
    audit as (
      insert into order_events (order_id, actor, role, from_status, to_status, data)
      select o.id, 'system', 'system', null, 'confirmed', ${JSON.stringify(order.audit)}::jsonb
      from o
    ),
    used as (
      delete from checkout_contacts
      where checkout_id = ${order.checkoutId} and exists (select 1 from o)
    )
    select (select id from o) as id, (select number from o) as number,
           exists (select 1 from voided) as voided,
           exists (select 1 from orders where checkout_id = ${order.checkoutId}) as exists`;
  if (row?.id && row.number) {
    return { outcome: "created", id: row.id, number: row.number };
  }
  if (row?.voided) return { outcome: "voided" };
  return { outcome: row?.exists ? "exists" : "contacts-missing" };
}

/**
 * A second reservation event for a checkout that already has its order re-sends the original
 * `orders.confirmed` (same event id, so every downstream inbox recognises it; a fresh
 * Nats-Msg-Id through `resends`, so JetStream's de-dup window cannot swallow it) — but only
 * when it names the order's own reservation. Returns the order it found, if any.
 */
export async function resendConfirmation(tx: TxSql, checkoutId: string, reservationId: string) {
  const [order] = await tx<{ number: string; reservationId: string; resent: number }[]>`
    with existing as (
      select number, reservation_id from orders where checkout_id = ${checkoutId}
    ),
    resent as (
      update outbox set published_at = null, locked_until = null, resends = resends + 1
      where correlation_id = ${checkoutId} and type = 'orders.confirmed'
        and published_at is not null
        and exists (select 1 from existing where reservation_id = ${reservationId})
      returning 1
    )
    select e.number, e.reservation_id as "reservationId",
           (select count(*)::int from resent) as resent,
           pg_notify(${OUTBOX_CHANNEL}, '')
    from existing e`;
  return order;
}
