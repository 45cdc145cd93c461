import { afterCommit, type FailureReason, type Sql, type TxSql } from "@codflow/shared";
import { removeOrderedQuantities } from "../domain/cart-line-removal.ts";
import type { RejectedLine } from "../domain/failure-summary.ts";
import type { CheckoutStatus } from "./schema.ts";

/**
 * Every status change NOTIFYs this channel with the checkout id once its transaction has
 * committed, so waiters on any replica learn of it when (and only if) it commits.
 */
export const CHECKOUT_STATUS_CHANNEL = "codflow_checkout_status";

/**
 * NOTIFYs the status channel of `checkoutIds` after `tx` commits: a NOTIFY inside the writing
 * transaction would serialise its commit with every other notifying commit (after-commit.ts).
 * In a transaction inTransaction did not open, it NOTIFYs inside it (delivered at commit).
 * Watchers also re-read every second, so a notification lost with a crash only delays them.
 */
async function announceStatusChanges(tx: TxSql, checkoutIds: readonly string[]) {
  if (checkoutIds.length === 0) return;
  const notify = (sql: Sql | TxSql) =>
    sql`select pg_notify(${CHECKOUT_STATUS_CHANNEL}, id)
        from unnest(${checkoutIds as string[]}::text[]) as id`;
  if (!afterCommit(tx, async (sql) => void (await notify(sql)))) await notify(tx);
}

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
 * Fails, in one statement, each of the checkouts that is still processing and frees its COD
 * active-order slot; returns those it failed (the others are already terminal, or unknown): the
 * conditional update decides, so two outcomes can never both apply. One NOTIFY per failed
 * checkout, after the commit, wakes its waiters. The checkouts must be distinct.
 */
export async function markCheckoutsFailed(tx: TxSql, failures: readonly CheckoutFailure[]) {
  const rows = await tx<(Settled & { checkoutId: string })[]>`
    with failed as (
      update checkouts c
      set status = 'failed', failure_reason = f.reason, failure_detail = f.detail,
          failure_lines = f.lines, updated_at = now(), completed_at = now()
      from unnest(
        ${failures.map((f) => f.checkoutId)}::uuid[],
        ${failures.map((f) => f.reason)}::text[],
        ${failures.map((f) => f.detail)}::text[],
        ${failures.map((f) => (f.lines ? JSON.stringify(f.lines) : null))}::jsonb[]
      ) as f(checkout_id, reason, detail, lines)
      where c.id = f.checkout_id and c.status = 'processing'
      returning c.id, c.customer_id, c.customer_email, c.cart_id,
                extract(epoch from c.completed_at - c.created_at)::float8 as age_seconds
    ), released as (
      delete from cod_active_orders where checkout_id in (select id from failed)
    )
    select id as "checkoutId", customer_id as "customerId", customer_email as "customerEmail",
           cart_id as "cartId", age_seconds as "ageSeconds"
    from failed`;
  await announceStatusChanges(
    tx,
    rows.map((row) => row.checkoutId),
  );
  return rows;
}

/** markCheckoutsFailed of one checkout: undefined when it is no longer processing. */
export async function markCheckoutFailed(tx: TxSql, failure: CheckoutFailure) {
  const [row] = await markCheckoutsFailed(tx, [failure]);
  return row;
}

export interface Confirmation {
  checkoutId: string;
  orderId: string;
  orderNumber: string;
}

/**
 * Confirms, in one statement, each of the checkouts that is still processing with its order;
 * returns those it confirmed (the others are already terminal, or unknown). One NOTIFY per
 * confirmed checkout, after the commit, wakes its waiters. The checkouts must be distinct.
 */
export async function markCheckoutsConfirmed(tx: TxSql, confirmations: readonly Confirmation[]) {
  const rows = await tx<(Settled & { checkoutId: string })[]>`
    with confirmed as (
      update checkouts c
      set status = 'confirmed', order_id = o.order_id, order_number = o.order_number,
          updated_at = now(), completed_at = now()
      from unnest(
        ${confirmations.map((o) => o.checkoutId)}::uuid[],
        ${confirmations.map((o) => o.orderId)}::uuid[],
        ${confirmations.map((o) => o.orderNumber)}::text[]
      ) as o(checkout_id, order_id, order_number)
      where c.id = o.checkout_id and c.status = 'processing'
      returning c.id, c.customer_id, c.customer_email, c.cart_id,
                extract(epoch from c.completed_at - c.created_at)::float8 as age_seconds
    )
    select id as "checkoutId", customer_id as "customerId", customer_email as "customerEmail",
           cart_id as "cartId", age_seconds as "ageSeconds"
    from confirmed`;
  await announceStatusChanges(
    tx,
    rows.map((row) => row.checkoutId),
  );
  return rows;
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
 * Takes the ordered quantities of confirmed checkouts out of their carts (see
 * removeOrderedQuantities; what two checkouts took from one line adds up, as if removed one
 * after the other). The cart lines are locked first, in id order, so a concurrent add or edit
 * waits and then applies to what is left. Two statements whatever the number of checkouts.
 */
export async function removeOrderedCartLines(tx: TxSql, checkoutIds: readonly string[]) {
  const held = await tx<{ id: string; qty: number; orderedQty: number }[]>`
    select c.id, c.qty, l.qty as "orderedQty"
    from checkout_lines l join cart_lines c on c.id = l.cart_line_id
    where l.checkout_id = any(${checkoutIds}::uuid[])
    order by c.id
    for update of c`;
  const { deleteIds, updates } = removeOrderedQuantities(
    [...new Map(held.map((h) => [h.id, { id: h.id, qty: h.qty }])).values()],
    held.map((h) => ({ cartLineId: h.id, qty: h.orderedQty })),
  );
  await tx`
    with removed as (delete from cart_lines where id = any(${deleteIds}::uuid[]))
    update cart_lines c set qty = u.qty, updated_at = now()
    from unnest(${updates.map((u) => u.id)}::uuid[], ${updates.map((u) => u.qty)}::int[]) as u(id, qty)
    where c.id = u.id`;
}
