import type { FailureReason, TxSql } from "@codflow/shared";
import { removeOrderedQuantities } from "../domain/cart-line-removal.ts";
import type { RejectedLine } from "../domain/failure-summary.ts";
import type { CheckoutStatus } from "./schema.ts";

/**
 * Every status change NOTIFYs this channel with the checkout id, in its own transaction, so
 * waiters on any replica learn of it when (and only if) it commits.
 */
export const CHECKOUT_STATUS_CHANNEL = "codflow_checkout_status";

interface Settled {
  customerId: string;
  customerEmail: string | null;
  cartId: string;
  /** Seconds from acceptance to this outcome (for the duration histogram). */
  ageSeconds: number;
}

export interface CheckoutFailure {
  checkoutId: string;
  reason: FailureReason;
  /** The sentence the customer reads. */
  detail: string;
  /** inventory's per-line reasons, when it rejected the checkout. */
  lines?: readonly RejectedLine[];
}

/**
 * Fails a checkout that is still processing and frees its COD active-order slot; undefined when
 * it is not (already terminal, or unknown): the conditional update decides, so two outcomes can
 * never both apply.
 */
export async function markCheckoutFailed(
  tx: TxSql,
  { checkoutId, reason, detail, lines }: CheckoutFailure,
) {
  const [row] = await tx<Settled[]>`
    with failed as (
      update checkouts
      set status = 'failed', failure_reason = ${reason}, failure_detail = ${detail},
          failure_lines = ${lines ? JSON.stringify(lines) : null}::jsonb,
          updated_at = now(), completed_at = now()
      where id = ${checkoutId} and status = 'processing'
      returning id, customer_id, customer_email, cart_id,
                extract(epoch from completed_at - created_at)::float8 as age_seconds
    ), released as (
      delete from cod_active_orders where checkout_id in (select id from failed)
    )
    select customer_id as "customerId", customer_email as "customerEmail", cart_id as "cartId",
           age_seconds as "ageSeconds", pg_notify(${CHECKOUT_STATUS_CHANNEL}, id::text)
    from failed`;
  return row;
}

/** Confirms a checkout that is still processing with its order; undefined when it is not. */
export async function markCheckoutConfirmed(
  tx: TxSql,
  {
    checkoutId,
    orderId,
    orderNumber,
  }: { checkoutId: string; orderId: string; orderNumber: string },
) {
  const [row] = await tx<Settled[]>`
    with confirmed as (
      update checkouts
      set status = 'confirmed', order_id = ${orderId}, order_number = ${orderNumber},
          updated_at = now(), completed_at = now()
      where id = ${checkoutId} and status = 'processing'
      returning id, customer_id, customer_email, cart_id,
                extract(epoch from completed_at - created_at)::float8 as age_seconds
    )
    select customer_id as "customerId", customer_email as "customerEmail", cart_id as "cartId",
           age_seconds as "ageSeconds", pg_notify(${CHECKOUT_STATUS_CHANNEL}, id::text)
    from confirmed`;
  return row;
}

export async function checkoutStatusOf(tx: TxSql, checkoutId: string) {
  const [row] = await tx<
    { status: CheckoutStatus; failureReason: string | null; orderId: string | null }[]
  >`
    select status, failure_reason as "failureReason", order_id as "orderId"
    from checkouts where id = ${checkoutId}`;
  return row;
}

/**
 * Takes the ordered quantities out of the cart (see removeOrderedQuantities). The cart lines are
 * locked first, so a concurrent add or edit waits and then applies to what is left.
 */
export async function removeOrderedCartLines(tx: TxSql, checkoutId: string) {
  const held = await tx<{ id: string; qty: number; orderedQty: number }[]>`
    select c.id, c.qty, l.qty as "orderedQty"
    from checkout_lines l join cart_lines c on c.id = l.cart_line_id
    where l.checkout_id = ${checkoutId}
    order by c.id
    for update of c`;
  const { deleteIds, updates } = removeOrderedQuantities(
    held,
    held.map((h) => ({ cartLineId: h.id, qty: h.orderedQty })),
  );
  await tx`
    with removed as (delete from cart_lines where id = any(${deleteIds}::uuid[]))
    update cart_lines c set qty = u.qty, updated_at = now()
    from unnest(${updates.map((u) => u.id)}::uuid[], ${updates.map((u) => u.qty)}::int[]) as u(id, qty)
    where c.id = u.id`;
}
