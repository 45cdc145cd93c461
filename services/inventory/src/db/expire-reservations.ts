import type { TxSql } from "@codflow/shared";
import type { DbTimestamp } from "./timestamps.ts";

export const EXPIRY_BATCH_SIZE = 200;

/**
 * Expires up to EXPIRY_BATCH_SIZE active reservations past their expiry in ONE statement:
 * claims them `FOR UPDATE SKIP LOCKED` (several sweepers get disjoint batches; a row a consumer
 * is committing or releasing right now is skipped, and one it closed meanwhile no longer
 * matches `status = 'active'` when the lock re-reads it), sets them expired, gives every line's
 * units back (summed per variant: an UPDATE … FROM applies one joined row per target row) and
 * writes an `expire` ledger row per line. The stock rows are locked in variant id order first
 * (`locked`), like on every other path that changes them: a sweep touching many variants and a
 * reservation or commit batch then queue behind each other instead of deadlocking.
 * Returns the reservations it expired.
 */
export async function expireDueReservations(sql: TxSql) {
  return sql<{ reservationId: string; checkoutId: string; expiredAt: DbTimestamp }[]>`
    with claimed as (
      select id from reservations
      where status = 'active' and expires_at < now()
      order by expires_at
      limit ${EXPIRY_BATCH_SIZE}
      for update skip locked
    ), expired as (
      update reservations r set status = 'expired', updated_at = now()
      from claimed c where r.id = c.id and r.status = 'active'
      returning r.id, r.checkout_id, r.updated_at
    ), moved as (
      select l.variant_id, l.qty, e.id as reservation_id, e.checkout_id
      from reservation_lines l join expired e on e.id = l.reservation_id
    ), locked as materialized (
      select variant_id from stock_levels
      where variant_id in (select variant_id from moved)
      order by variant_id
      for update
    ), levels as (
      update stock_levels s set reserved = s.reserved - m.qty
      from (select variant_id, sum(qty)::int as qty from moved group by variant_id) m
      join locked using (variant_id)
      where s.variant_id = m.variant_id
    ), ledger as (
      insert into stock_movements (variant_id, kind, reserved_delta, reservation_id, checkout_id)
      select variant_id, 'expire', -qty, reservation_id, checkout_id from moved
    )
    select id as "reservationId", checkout_id as "checkoutId", updated_at as "expiredAt"
    from expired`;
}
