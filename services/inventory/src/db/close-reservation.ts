import type { TxSql } from "@codflow/shared";
import type { ReservationMove, ReservationStatus } from "../domain/reservation-status.ts";

interface Closing {
  move: ReservationMove;
  /** The ledger kind of the rows written, one per line. */
  ledgerKind: "commit" | "release" | "restock";
  /** Per unit of a line: how `reserved` and `committed` change. */
  reservedDelta: -1 | 0;
  committedDelta: -1 | 0 | 1;
}

/**
 * How closing moves stock: a commit turns reserved units into committed ones, a release frees
 * reserved ones, a cancel frees committed ones (ledger `release` rows with a committed delta),
 * a restock frees the committed units of a parcel that came back (ledger `restock` rows).
 */
const CLOSINGS = {
  commit: {
    move: { from: "active", to: "committed" },
    ledgerKind: "commit",
    reservedDelta: -1,
    committedDelta: 1,
  },
  release: {
    move: { from: "active", to: "released" },
    ledgerKind: "release",
    reservedDelta: -1,
    committedDelta: 0,
  },
  cancel: {
    move: { from: "committed", to: "cancelled" },
    ledgerKind: "release",
    reservedDelta: 0,
    committedDelta: -1,
  },
  restock: {
    move: { from: "committed", to: "returned" },
    ledgerKind: "restock",
    reservedDelta: 0,
    committedDelta: -1,
  },
} as const satisfies Record<string, Closing>;

export type ClosingKind = keyof typeof CLOSINGS;

/**
 * Moves the checkout's reservation along one closing in ONE statement: the status change (only
 * from the closing's `from` status: the WHERE decides a race with the sweeper or another
 * consumer, whoever holds the row lock first wins), every line's stock level and a ledger row
 * per line. The stock rows are locked in variant id order before they are updated (`locked`:
 * the sort runs before the row locks), as every stock-changing path does, so concurrent
 * reservations, closings and the sweeper never deadlock on them. Returns the status the reservation had, read under its row lock, so the caller can
 * tell "done now" (`from`) from "already done" or "too late"; undefined when the checkout has no
 * reservation (with `reservationId` given: no such reservation for this checkout).
 */
export async function closeReservation(
  sql: TxSql,
  {
    checkoutId,
    reservationId,
    kind,
  }: { checkoutId: string; reservationId?: string; kind: ClosingKind },
): Promise<ReservationStatus | undefined> {
  const { move, ledgerKind, reservedDelta, committedDelta } = CLOSINGS[kind];
  const [row] = await sql<{ previousStatus: ReservationStatus }[]>`
    with target as (
      select id, checkout_id, status from reservations
      where checkout_id = ${checkoutId} ${reservationId ? sql`and id = ${reservationId}` : sql``}
      for update
    ), closed as (
      update reservations r set status = ${move.to}::reservation_status, updated_at = now()
      from target t where r.id = t.id and t.status = ${move.from}::reservation_status
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
      update stock_levels s
      set reserved = s.reserved + m.qty * ${reservedDelta}::int,
          committed = s.committed + m.qty * ${committedDelta}::int
      from moved m join locked using (variant_id) where s.variant_id = m.variant_id
    ), ledger as (
      insert into stock_movements (variant_id, kind, reserved_delta, committed_delta, reservation_id, checkout_id)
      select variant_id, ${ledgerKind}::stock_movement_kind, qty * ${reservedDelta}::int,
             qty * ${committedDelta}::int, reservation_id, checkout_id
      from moved
    )
    select status as "previousStatus" from target`;
  return row?.previousStatus;
}

/**
 * The tombstone of a checkout aborted before it reserved: a `void` reservation without lines,
 * expired at once. The unique checkout_id then makes a late `checkout.requested` reserve nothing.
 * False when the checkout already has a reservation (the unique constraint decides the race).
 */
export async function insertVoidReservation(
  sql: TxSql,
  { reservationId, checkoutId }: { reservationId: string; checkoutId: string },
) {
  const inserted = await sql`
    insert into reservations (id, checkout_id, status, expires_at)
    values (${reservationId}, ${checkoutId}, 'void', now())
    on conflict (checkout_id) do nothing
    returning 1`;
  return inserted.length > 0;
}
