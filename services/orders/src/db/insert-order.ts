import { type ReservedLine, type TxSql, wakeRelayAfter } from "@codflow/shared";

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
 * What `insertOrders` did for one order: made it, found the checkout's order, found it voided,
 * or found no contact details for it yet (its `checkout.requested` has not been consumed here
 * yet).
 */
export type InsertOrderResult =
  | { outcome: "created"; id: string; number: string }
  | { outcome: "exists" }
  | { outcome: "voided" }
  | { outcome: "contacts-missing" };

/**
 * Inserts the orders, ALL their items and their first audit rows in one statement, whether one
 * order or a consumer's whole batch: one round trip, and no state where an order exists
 * without its lines. pgbench on this machine's class of hardware: ~300 orders/s at one order
 * per transaction, ~5,000/s at 50 (DESIGN.md "Throughput is a design property").
 * `on conflict (checkout_id) do nothing` makes a second order for a checkout impossible,
 * whatever the broker redelivers (`exists`). A checkout in `voided_checkouts` (it failed before
 * its reservation arrived) gets no order (`voided`); the caller must hold `lockCheckouts` so an
 * abort cannot commit its tombstone unseen while this runs. Order numbers come from a sequence,
 * drawn in the given order (`CF-000001`, wider once past a million). The phone, address and
 * email come from the checkout's `checkout_contacts` row, which the same statement deletes once
 * the order holds them; without that row no order is made (`contacts-missing`). A missing
 * vendor in the replica fails the statement with a foreign-key violation on
 * `order_items_vendor_id_vendors_id_fk`. The checkouts must be distinct. Results are in the
 * order of `orders`.
 */
export async function insertOrders(
  tx: TxSql,
  orders: readonly NewOrder[],
): Promise<InsertOrderResult[]> {
  const lines = orders.flatMap((order) =>
    order.lines.map((line, i) => ({ orderId: order.id, lineNo: i + 1, ...line })),
  );
  const rows = await tx<
    { id: string | null; number: string | null; voided: boolean; exists: boolean }[]
  >`
    with input as (
      select * from unnest(
        ${orders.map((o) => o.id)}::uuid[],
        ${orders.map((o) => o.checkoutId)}::uuid[],
        ${orders.map((o) => o.reservationId)}::uuid[],
        ${orders.map((o) => o.customerId)}::text[],
        ${orders.map((o) => o.totalMinor)}::bigint[],
        ${orders.map((o) => o.currency)}::text[],
        ${orders.map((o) => JSON.stringify(o.audit))}::text[]
      ) with ordinality
        as i(id, checkout_id, reservation_id, customer_id, total_minor, currency, audit, n)
    ),
    decided as (
      select i.*, c.phone, c.shipping_address, c.customer_email,
             exists (select 1 from voided_checkouts v where v.checkout_id = i.checkout_id) as voided
      from input i left join checkout_contacts c on c.checkout_id = i.checkout_id
    ),
    numbered as (
      select d.*, nextval('order_number_seq') as seq
      from (select * from decided where phone is not null and not voided order by n) as d
    ),
    o as (
      insert into orders (id, number, checkout_id, reservation_id, customer_id, status,
                          total_minor, currency, payment_method, phone, shipping_address,
                          customer_email)
      select id, 'CF-' || lpad(seq::text, greatest(6, length(seq::text)), '0'), checkout_id,
             reservation_id, customer_id, 'confirmed', total_minor, currency, 'cod', phone,
             shipping_address, customer_email
      from numbered
      order by n
      on conflict (checkout_id) do nothing
      returning id, number, checkout_id
    ),
    items as (
      insert into order_items (order_id, line_no, variant_id, product_slug, vendor_id, sku, title,
                               qty, unit_price_minor)
      select l.order_id, l.line_no, l.variant_id, l.product_slug, l.vendor_id, l.sku, l.title,
             l.qty, l.unit_price_minor
      from o join unnest(
        ${lines.map((l) => l.orderId)}::uuid[],
        ${lines.map((l) => l.lineNo)}::int[],
        ${lines.map((l) => l.variantId)}::uuid[],
        ${lines.map((l) => l.productSlug)}::text[],
        ${lines.map((l) => l.vendorId)}::uuid[],
        ${lines.map((l) => l.sku)}::text[],
        ${lines.map((l) => l.title)}::text[],
        ${lines.map((l) => l.qty)}::int[],
        ${lines.map((l) => l.unitPriceMinor)}::bigint[]
      ) as l(order_id, line_no, variant_id, product_slug, vendor_id, sku, title, qty,
             unit_price_minor) on l.order_id = o.id
    ),
    audit as (
      insert into order_events (order_id, actor, role, from_status, to_status, data)
      select o.id, 'system', 'system', null, 'confirmed', i.audit::jsonb
      from o join input i on i.id = o.id
    ),
    used as (
      delete from checkout_contacts where checkout_id in (select checkout_id from o)
    )
    select o.id, o.number, d.voided,
           exists (select 1 from orders e where e.checkout_id = d.checkout_id) as exists
    from decided d left join o on o.id = d.id
    order by d.n`;
  return rows.map((row): InsertOrderResult => {
    if (row.id && row.number) return { outcome: "created", id: row.id, number: row.number };
    if (row.voided) return { outcome: "voided" };
    return { outcome: row.exists ? "exists" : "contacts-missing" };
  });
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
        and (published_at is not null or locked_until is not null)
        and exists (select 1 from existing where reservation_id = ${reservationId})
      returning 1
    )
    select e.number, e.reservation_id as "reservationId",
           (select count(*)::int from resent) as resent ${wakeRelayAfter(tx)}
    from existing e`;
  return order;
}
