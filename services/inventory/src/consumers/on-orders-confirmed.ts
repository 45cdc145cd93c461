/**
 * inventory.commit-reservation — on `orders.confirmed`, turns the checkout's active reservation
 * into a commitment in one statement: status committed, reserved -= qty and committed += qty
 * per line, a `commit` ledger row per line. The reservation's row lock makes this and the
 * expiry sweeper (or an abort) exclusive: whoever takes it first wins, the other applies nothing.
 * An already committed reservation changes nothing (a re-sent orders.confirmed meets the inbox,
 * which re-sends inventory.committed). A released, expired, void or cancelled one is a late
 * commit: nothing is applied, it is logged and counted; the checkout fails through the expiry
 * or abort path and orders cancels the order on `checkout.failed`.
 * A batch of confirmations commits in one statement (reservations, then their stock rows in
 * variant id order), with the same outcome per message as one by one in delivery order.
 * Emits `inventory.committed` (order id and number, line snapshots from the order): the saga's
 * success signal for checkout. Undone by: `orders.cancelled` (inventory.cancel-commitment).
 */
import { type ConsumerSpec, type EventData, type Logger, TerminalError } from "@codflow/shared";
import { closeReservation } from "../db/close-reservation.ts";
import { commitReservations, reservationKey } from "../db/commit-reservations.ts";
import type { ReservationStatus } from "../domain/reservation-status.ts";
import type { InventoryMetrics } from "../metrics.ts";

type Confirmed = EventData<"orders.confirmed">;

export function onOrdersConfirmed({
  logger,
  metrics,
}: {
  logger: Logger;
  metrics: InventoryMetrics;
}): ConsumerSpec<"orders.confirmed"> {
  /** The answer to one confirmation, given the status its reservation had before it. */
  const outcomeOf = (data: Confirmed, previous: ReservationStatus | undefined) => {
    const { reservationId, checkoutId, orderId } = data;
    if (previous === undefined) {
      throw new TerminalError(
        `order ${orderId}: no reservation ${reservationId} for checkout ${checkoutId}`,
      );
    }
    if (previous === "active") return { kind: "committed" } as const;
    if (previous === "committed") return { kind: "already-committed" } as const;
    return {
      kind: "late",
      report: () => {
        metrics.lateCommits.inc({ reservation_status: previous });
        logger.warn(
          { orderId, reservationId, checkoutId, reservationStatus: previous },
          "order confirmed after its reservation closed; nothing committed",
        );
      },
    } as const;
  };

  return {
    name: "inventory.commit-reservation",
    type: "orders.confirmed",
    async handle({ data }, tx) {
      const { reservationId, checkoutId } = data;
      const previous = await closeReservation(tx.sql, {
        checkoutId,
        reservationId,
        kind: "commit",
      });
      const outcome = outcomeOf(data, previous);
      if (outcome.kind === "committed") await tx.emit(committedEvent(data));
      if (outcome.kind === "late") outcome.report();
    },
    async handleBatch(events, tx) {
      const previous = await commitReservations(
        tx.sql,
        events.map(({ data }) => ({
          reservationId: data.reservationId,
          checkoutId: data.checkoutId,
        })),
      );
      /** A reservation confirmed twice in the batch: the later one finds it committed. */
      const committedHere = new Set<string>();
      for (const event of events) {
        const key = reservationKey(event.data);
        const status = committedHere.has(key) ? "committed" : previous.get(key);
        const outcome = outcomeOf(event.data, status);
        if (outcome.kind === "committed") {
          committedHere.add(key);
          tx.emitFor(event, committedEvent(event.data));
        }
        if (outcome.kind === "late") tx.afterCommit(outcome.report);
      }
    },
  };
}

function committedEvent(data: Confirmed) {
  return {
    type: "inventory.committed",
    correlationId: data.checkoutId,
    data: {
      checkoutId: data.checkoutId,
      reservationId: data.reservationId,
      orderId: data.orderId,
      orderNumber: data.orderNumber,
      customerId: data.customerId,
      items: data.items,
      totalMinor: data.totalMinor,
      currency: data.currency,
    },
  } as const;
}
