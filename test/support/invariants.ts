import { connectPostgres } from "@codflow/shared";
import type postgres from "postgres";

/** Where the four databases of a running system are. */
export interface SystemDatabases {
  checkout: string;
  inventory: string;
  orders: string;
  notifier: string;
}

const LIVE_ORDER = new Set([
  "confirmed",
  "shipped",
  "out_for_delivery",
  "delivered",
  "delivery_failed",
  "rto_initiated",
]);

/**
 * DESIGN.md's invariant, checked across the four databases after the system went quiet:
 * every checkout terminal; a confirmed checkout has exactly one live order whose reservation is
 * committed; a failed checkout has no live order and no held stock; no reservation is left
 * active; stock never oversold and its levels equal the sums of the ledger and of the held
 * reservations; exactly one email per terminal checkout that has an address.
 * Returns every violation found, in words (empty = the invariant holds).
 */
export async function checkInvariant(dbs: SystemDatabases): Promise<string[]> {
  const connect = (url: string) => connectPostgres(url, { max: 1, onnotice: () => {} });
  const [checkout, inventory, orders, notifier] = [
    dbs.checkout,
    dbs.inventory,
    dbs.orders,
    dbs.notifier,
  ].map(connect) as [postgres.Sql, postgres.Sql, postgres.Sql, postgres.Sql];
  const violations: string[] = [];
  try {
    const checkouts = await checkout<
      { id: string; status: string; order_id: string | null; customer_email: string | null }[]
    >`
      select id, status, order_id, customer_email from checkouts`;
    const orderRows = await orders<
      { id: string; checkout_id: string; status: string; reservation_id: string }[]
    >`
      select id, checkout_id, status, reservation_id from orders`;
    const reservations = await inventory<{ id: string; checkout_id: string; status: string }[]>`
      select id, checkout_id, status::text as status from reservations`;
    const ordersByCheckout = new Map<string, (typeof orderRows)[number][]>();
    for (const o of orderRows)
      ordersByCheckout.set(o.checkout_id, [...(ordersByCheckout.get(o.checkout_id) ?? []), o]);
    const reservationByCheckout = new Map(reservations.map((r) => [r.checkout_id, r]));
    const knownCheckouts = new Set(checkouts.map((c) => c.id));

    for (const c of checkouts) {
      const its = ordersByCheckout.get(c.id) ?? [];
      const live = its.filter((o) => LIVE_ORDER.has(o.status));
      const reservation = reservationByCheckout.get(c.id);
      if (c.status === "processing") violations.push(`checkout ${c.id} is still processing`);
      if (its.length > 1) violations.push(`checkout ${c.id} has ${its.length} orders`);
      if (c.status === "confirmed") {
        if (live.length !== 1)
          violations.push(`confirmed checkout ${c.id} has ${live.length} live orders`);
        else if (live[0]?.id !== c.order_id)
          violations.push(
            `confirmed checkout ${c.id} names order ${c.order_id}, not ${live[0]?.id}`,
          );
        if (reservation?.status !== "committed") {
          violations.push(
            `confirmed checkout ${c.id} has reservation ${reservation?.status ?? "none"}, not committed`,
          );
        }
      }
      if (c.status === "failed") {
        if (live.length > 0)
          violations.push(`failed checkout ${c.id} has a live order ${live[0]?.id}`);
        if (
          reservation &&
          (reservation.status === "active" || reservation.status === "committed")
        ) {
          violations.push(
            `failed checkout ${c.id} still holds a ${reservation.status} reservation`,
          );
        }
      }
    }
    for (const o of orderRows) {
      if (!knownCheckouts.has(o.checkout_id)) violations.push(`order ${o.id} has no checkout`);
      const reservation = reservationByCheckout.get(o.checkout_id);
      if (LIVE_ORDER.has(o.status) && reservation?.status !== "committed") {
        violations.push(
          `live order ${o.id} stands on a ${reservation?.status ?? "missing"} reservation`,
        );
      }
    }
    for (const r of reservations) {
      if (r.status === "active") violations.push(`reservation ${r.id} is still active`);
    }

    const stock = await inventory<{ variant_id: string; problem: string }[]>`
      with ledger as (
        select variant_id, sum(on_hand_delta)::int as on_hand, sum(reserved_delta)::int as reserved,
               sum(committed_delta)::int as committed
        from stock_movements group by variant_id
      ),
      held as (
        select l.variant_id,
               coalesce(sum(l.qty) filter (where r.status = 'active'), 0)::int as reserved,
               coalesce(sum(l.qty) filter (where r.status = 'committed'), 0)::int as committed
        from reservation_lines l join reservations r on r.id = l.reservation_id group by l.variant_id
      )
      select s.variant_id,
             concat_ws('; ',
               case when s.on_hand - s.reserved - s.committed < 0 then 'oversold' end,
               case when (s.on_hand, s.reserved, s.committed) is distinct from
                         (coalesce(g.on_hand, 0), coalesce(g.reserved, 0), coalesce(g.committed, 0))
                    then format('levels %s/%s/%s but ledger %s/%s/%s', s.on_hand, s.reserved, s.committed,
                                g.on_hand, g.reserved, g.committed) end,
               case when (s.reserved, s.committed) is distinct from (coalesce(h.reserved, 0), coalesce(h.committed, 0))
                    then format('reserved/committed %s/%s but reservations hold %s/%s', s.reserved, s.committed,
                                coalesce(h.reserved, 0), coalesce(h.committed, 0)) end
             ) as problem
      from stock_levels s left join ledger g using (variant_id) left join held h using (variant_id)`;
    for (const s of stock) if (s.problem) violations.push(`variant ${s.variant_id}: ${s.problem}`);

    const mails = await notifier<{ checkout_id: string; template: string; n: number }[]>`
      select checkout_id::text, template, count(*)::int as n from notifications
      where checkout_id is not null and status <> 'skipped' group by 1, 2`;
    const mailCount = new Map(mails.map((m) => [`${m.checkout_id}/${m.template}`, m.n]));
    for (const c of checkouts.filter((x) => x.status !== "processing" && x.customer_email)) {
      const template = c.status === "confirmed" ? "order-confirmed" : "checkout-failed";
      const n = mailCount.get(`${c.id}/${template}`) ?? 0;
      if (n !== 1)
        violations.push(`${c.status} checkout ${c.id} has ${n} ${template} notifications`);
    }
  } finally {
    await Promise.all([checkout, inventory, orders, notifier].map((s) => s.end()));
  }
  return violations;
}
