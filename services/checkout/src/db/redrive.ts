import { type TxSql, wakeRelayAfter } from "@codflow/shared";
import { TIMED_OUT_DETAIL } from "../domain/failure-summary.ts";
import { CHECKOUT_STATUS_CHANNEL } from "./checkout-outcomes.ts";

/**
 * Claims up to `limit` processing checkouts without progress for `stalledSeconds` that are still
 * inside their deadline, and stamps the re-drive on them (redrives + 1, last_progress_at = now).
 * FOR UPDATE SKIP LOCKED gives concurrent re-drivers disjoint sets, and a stamped checkout is not
 * stalled again for `stalledSeconds`: each is re-driven once per round. Served by the partial
 * index on last_progress_at (processing rows only).
 */
export async function claimStalledCheckouts(
  tx: TxSql,
  {
    stalledSeconds,
    deadlineSeconds,
    limit,
  }: { stalledSeconds: number; deadlineSeconds: number; limit: number },
) {
  const rows = await tx<{ id: string }[]>`
    with stalled as (
      select id from checkouts
      where status = 'processing'
        and last_progress_at < now() - make_interval(secs => ${stalledSeconds})
        and created_at >= now() - make_interval(secs => ${deadlineSeconds})
      order by last_progress_at
      limit ${limit}
      for update skip locked
    )
    update checkouts c
    set redrives = c.redrives + 1, last_progress_at = now()
    from stalled where c.id = stalled.id
    returning c.id`;
  return rows.map((r) => r.id);
}

/**
 * Re-sends the first event of these checkouts: their `checkout.requested` rows become
 * unpublished again and the relay publishes them (same event id) under a fresh Nats-Msg-Id
 * `<id>:<resends>`. Every inbox downstream takes it as a duplicate and re-sends its own outputs,
 * which heals a lost hop anywhere down the chain. Like shared's `resendOutputsOf`, but chosen by
 * correlation id and type: the request is the one row no input event caused.
 */
export async function resendCheckoutRequests(tx: TxSql, checkoutIds: string[]) {
  if (checkoutIds.length === 0) return 0;
  const [row] = await tx<{ n: number }[]>`
    with resent as (
      update outbox set published_at = null, locked_until = null, resends = resends + 1
      where type = 'checkout.requested' and correlation_id = any(${checkoutIds}::text[])
      returning 1
    )
    select count(*)::int as n ${wakeRelayAfter(tx)} from resent`;
  return row?.n ?? 0;
}

export interface TimedOutCheckout {
  id: string;
  customerId: string;
  customerEmail: string | null;
  /** Seconds from acceptance to the time-out. */
  ageSeconds: number;
}

/**
 * Fails with `timed_out` up to `limit` checkouts still processing `deadlineSeconds` after they
 * were accepted, freeing their COD active-order slots and notifying status watchers as every
 * status change does. SKIP LOCKED keeps
 * concurrent re-drivers apart; the conditional update (`status = 'processing'`) means a
 * checkout an outcome settled meanwhile is left alone.
 */
export async function failOverdueCheckouts(
  tx: TxSql,
  { deadlineSeconds, limit }: { deadlineSeconds: number; limit: number },
) {
  return tx<TimedOutCheckout[]>`
    with overdue as (
      select id from checkouts
      where status = 'processing' and created_at < now() - make_interval(secs => ${deadlineSeconds})
      order by created_at
      limit ${limit}
      for update skip locked
    ), failed as (
      update checkouts c
      set status = 'failed', failure_reason = 'timed_out', failure_detail = ${TIMED_OUT_DETAIL},
          updated_at = now(), completed_at = now()
      from overdue where c.id = overdue.id and c.status = 'processing'
      returning c.id, c.customer_id, c.customer_email,
                extract(epoch from c.completed_at - c.created_at)::float8 as age_seconds
    ), released as (
      delete from cod_active_orders where checkout_id in (select id from failed)
    )
    select id, customer_id as "customerId", customer_email as "customerEmail",
           age_seconds as "ageSeconds", pg_notify(${CHECKOUT_STATUS_CHANNEL}, id::text)
    from failed`;
}
