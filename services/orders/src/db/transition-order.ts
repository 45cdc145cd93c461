import type { ActorRole, TxSql } from "@codflow/shared";
import type { DeliveryChange } from "../domain/lifecycle.ts";
import type { MovedOrder } from "../domain/lifecycle-events.ts";
import type { OrderStatus } from "../domain/order-status.ts";

/** An order as a transition reads it, under its row lock. */
export interface LockedOrder extends MovedOrder {
  status: OrderStatus;
  /** Failed delivery attempts so far. */
  attempts: number;
}

/**
 * Reads the order and locks its row until the transaction ends, so two transitions of one order
 * run one after the other and the second decides on what the first left (a concurrent
 * `shipped` and `cancelled` of a confirmed order: exactly one wins). With `customerId`, only that
 * customer's order is found.
 */
export async function lockOrder(tx: TxSql, orderId: string, customerId?: string) {
  const [order] = await tx<LockedOrder[]>`
    select o.id, o.number, o.checkout_id as "checkoutId", o.reservation_id as "reservationId",
           o.customer_id as "customerId", o.customer_email as "customerEmail", o.status,
           o.total_minor::float8 as "totalMinor", o.currency,
           coalesce(d.attempts, 0) as attempts
    from orders o left join deliveries d on d.order_id = o.id
    where o.id = ${orderId} ${customerId === undefined ? tx`` : tx`and o.customer_id = ${customerId}`}
    for update of o`;
  return order;
}

/**
 * Applies a decided move to the locked order: its status, the delivery record and the audit row
 * (who, which role, from, to, what data). Returns the audit row's time as ISO-8601. A waybill
 * already used by the courier fails with a unique violation on `deliveries_courier_awb_unique`.
 */
export async function recordTransition(
  tx: TxSql,
  {
    order,
    to,
    change,
    actor,
    data,
  }: {
    order: LockedOrder;
    to: OrderStatus;
    change: DeliveryChange;
    actor: { id: string; role: ActorRole };
    data: Record<string, unknown>;
  },
): Promise<string> {
  if (change.kind === "ship") {
    await tx`
      insert into deliveries (order_id, courier, awb)
      values (${order.id}, ${change.courier}, ${change.awb})`;
  } else if (change.kind === "fail") {
    await tx`
      update deliveries set attempts = ${change.attempt}, last_failure_reason = ${change.reason}
      where order_id = ${order.id}`;
  } else if (change.kind === "deliver") {
    await tx`
      update deliveries
      set cash_collected_minor = ${change.cashCollectedMinor}, cash_mismatch = ${change.cashMismatch},
          delivered_by = ${actor.id}, delivered_at = now()
      where order_id = ${order.id}`;
  }
  const [audit] = await tx<{ at: string }[]>`
    with moved as (
      update orders set status = ${to}, updated_at = now()
      where id = ${order.id} and status = ${order.status}
      returning id
    )
    insert into order_events (order_id, actor, role, from_status, to_status, data)
    select id, ${actor.id}, ${actor.role}, ${order.status}, ${to}, ${JSON.stringify(data)}::jsonb
    from moved
    returning to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at`;
  if (!audit) throw new Error(`order ${order.id} left ${order.status} while locked`);
  return audit.at;
}
