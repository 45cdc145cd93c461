import type { TxSql } from "@codflow/shared";
import type { ReservationStatus } from "../domain/reservation-status.ts";

export interface ReservationRef {
  reservationId: string;
  checkoutId: string;
}

/** Keys commitReservations' answer: a reservation counts only under its own checkout. */
export const reservationKey = ({ reservationId, checkoutId }: ReservationRef) =>
  `${reservationId}/${checkoutId}`;

/**
 * Commits a batch of reservations in ONE statement, as closeReservation(…, "commit") does one:
 * locks the reservations (id order), moves the active ones to committed, locks their stock rows
 * in variant id order (the order every stock-changing path uses, so no deadlock) and moves each
 * variant's units from reserved to committed (summed: an UPDATE … FROM applies one joined row
 * per target row), with a `commit` ledger row per line. Returns the status each reservation had
 * under its row lock (missing: no such reservation for that checkout), so the caller tells
 * "committed now" (`active`) from "already committed" or "too late". At 100 checkouts/s the
 * one-message path held the stock rows across a transaction per message and queued behind
 * inventory.reserve-stock's batches on them.
 */
export async function commitReservations(sql: TxSql, refs: ReservationRef[]) {
  const rows = await sql<
    { reservationId: string; checkoutId: string; previousStatus: ReservationStatus }[]
  >`
    with wanted as (
      select distinct * from unnest(${refs.map((r) => r.reservationId)}::uuid[],
                                    ${refs.map((r) => r.checkoutId)}::uuid[])
             as w(reservation_id, checkout_id)
    ), target as (
      select r.id, r.checkout_id, r.status from reservations r
      join wanted w on w.reservation_id = r.id and w.checkout_id = r.checkout_id
      order by r.id
      for update of r
    ), closed as (
      update reservations r set status = 'committed', updated_at = now()
      from target t where r.id = t.id and t.status = 'active'
      returning r.id, r.checkout_id
    ), moved as (
      select l.variant_id, l.qty, c.id as reservation_id, c.checkout_id
      from reservation_lines l join closed c on c.id = l.reservation_id
    ), locked as materialized (
      select variant_id from stock_levels
      where variant_id in (select variant_id from moved)
      order by variant_id
      for update
    ), levels as (
      update stock_levels s set reserved = s.reserved - m.qty, committed = s.committed + m.qty
      from (select variant_id, sum(qty)::int as qty from moved group by variant_id) m
      join locked using (variant_id)
      where s.variant_id = m.variant_id
    ), ledger as (
      insert into stock_movements (variant_id, kind, reserved_delta, committed_delta, reservation_id, checkout_id)
      select variant_id, 'commit', -qty, qty, reservation_id, checkout_id from moved
    )
    select id as "reservationId", checkout_id as "checkoutId", status as "previousStatus"
    from target`;
  return new Map(rows.map((r) => [reservationKey(r), r.previousStatus]));
}
