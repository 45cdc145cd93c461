import type { FailureReason, TxSql } from "@codflow/shared";
import type { OrderStatus } from "../domain/order-status.ts";

/** What `abortCheckout` found and did for one failed checkout. */
export type AbortResult =
  | {
      outcome: "cancelled";
      orderId: string;
      orderNumber: string;
      reservationId: string;
      customerId: string;
      customerEmail: string | null;
      /** When it was cancelled (the audit row's time), ISO-8601. */
      at: string;
    }
  | { outcome: "voided" }
  | { outcome: "already_voided" }
  | { outcome: "untouched"; orderId: string; status: OrderStatus };

/**
 * Applies `checkout.failed` in one statement: the checkout's `confirmed` order becomes
 * `cancelled` with its audit row; a checkout without an order gets a tombstone in
 * `voided_checkouts`, so a late `inventory.reserved` makes no order; an order already past
 * `confirmed` is left as it is (`untouched`). The checkout's contact details are forgotten
 * either way: no order will be made from them. The caller must hold `lockCheckouts`, so an order
 * being inserted at this moment is committed, and seen, before this statement starts.
 */
export async function abortCheckout(
  tx: TxSql,
  {
    checkoutId,
    failureReason,
    cancelReason,
  }: {
    checkoutId: string;
    /** The `checkout.failed` reason, kept on the tombstone. */
    failureReason: FailureReason;
    /** Recorded on the cancelled order's audit row. */
    cancelReason: string;
  },
): Promise<AbortResult> {
  const [row] = await tx<
    {
      orderId: string | null;
      orderNumber: string | null;
      status: OrderStatus | null;
      reservationId: string | null;
      customerId: string | null;
      customerEmail: string | null;
      at: string;
      cancelled: boolean;
      voided: boolean;
    }[]
  >`
    with cancelled as (
      update orders set status = 'cancelled', updated_at = now()
      where checkout_id = ${checkoutId} and status = 'confirmed'
      returning id
    ),
    audit as (
      insert into order_events (order_id, actor, role, from_status, to_status, data)
      select id, 'system', 'system', 'confirmed', 'cancelled', ${JSON.stringify({ reason: cancelReason })}::jsonb
      from cancelled
    ),
    forgotten as (
      delete from checkout_contacts where checkout_id = ${checkoutId}
    ),
    voided as (
      insert into voided_checkouts (checkout_id, reason)
      select ${checkoutId}, ${failureReason}
      where not exists (select 1 from orders where checkout_id = ${checkoutId})
      on conflict (checkout_id) do nothing
      returning 1
    )
    select o.id as "orderId", o.number as "orderNumber", o.status,
           o.reservation_id as "reservationId", o.customer_id as "customerId",
           o.customer_email as "customerEmail",
           to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at,
           exists (select 1 from cancelled) as cancelled, exists (select 1 from voided) as voided
    from (select 1) as one left join orders o on o.checkout_id = ${checkoutId}`;
  if (!row?.orderId) return { outcome: row?.voided ? "voided" : "already_voided" };
  if (row.cancelled && row.orderNumber && row.reservationId && row.customerId) {
    return {
      outcome: "cancelled",
      orderId: row.orderId,
      orderNumber: row.orderNumber,
      reservationId: row.reservationId,
      customerId: row.customerId,
      customerEmail: row.customerEmail,
      at: row.at,
    };
  }
  return { outcome: "untouched", orderId: row.orderId, status: row.status as OrderStatus };
}
