import type { TxSql } from "@codflow/shared";

export type ReservationStatus = "active" | "committed" | "released" | "expired";

/** How closing moves stock: a commit turns reserved units into committed ones, a release frees them. */
const CLOSINGS = {
  commit: { to: "committed", committedFactor: 1 },
  release: { to: "released", committedFactor: 0 },
} as const;

/**
 * Moves an active reservation to committed or released in ONE statement: the status change,
 * every line's stock level (reserved -= qty, and committed += qty for a commit), and a ledger
 * row per line. Returns the status the reservation had (read under its row lock), so the
 * caller can tell "done now" (active) from "already done" or "too late"; undefined when there
 * is no such reservation for this checkout.
 */
export async function closeReservation(
  sql: TxSql,
  {
    reservationId,
    checkoutId,
    kind,
  }: { reservationId: string; checkoutId: string; kind: keyof typeof CLOSINGS },
): Promise<ReservationStatus | undefined> {
  const { to, committedFactor } = CLOSINGS[kind];
  const [row] = await sql<{ previousStatus: ReservationStatus }[]>`
    with target as (
      select id, checkout_id, status from reservations
      where id = ${reservationId} and checkout_id = ${checkoutId}
      for update
    ), closed as (
      update reservations r set status = ${to}::reservation_status, updated_at = now()
      from target t where r.id = t.id and t.status = 'active'
      returning r.id, r.checkout_id
    ), moved as (
      select l.variant_id, l.qty, c.id as reservation_id, c.checkout_id
      from reservation_lines l join closed c on c.id = l.reservation_id
    ), levels as (
      update stock_levels s
      set reserved = s.reserved - m.qty, committed = s.committed + m.qty * ${committedFactor}::int
      from moved m where s.variant_id = m.variant_id
    ), ledger as (
      insert into stock_movements (variant_id, kind, reserved_delta, committed_delta, reservation_id, checkout_id)
      select variant_id, ${kind}::stock_movement_kind, -qty, qty * ${committedFactor}::int, reservation_id, checkout_id
      from moved
    )
    select status as "previousStatus" from target`;
  return row?.previousStatus;
}
