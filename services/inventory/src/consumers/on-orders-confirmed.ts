/**
 * inventory.commit-reservation — on `orders.confirmed`, turns the checkout's active reservation
 * into a commitment in one statement: status committed, reserved -= qty and committed += qty
 * per line, a `commit` ledger row per line. The reservation's row lock makes this and the
 * expiry sweeper (or an abort) exclusive: whoever takes it first wins, the other applies nothing.
 * An already committed reservation changes nothing (a re-sent orders.confirmed meets the inbox,
 * which re-sends inventory.committed). A released, expired, void or cancelled one is a late
 * commit: nothing is applied, it is logged and counted; the checkout fails through the expiry
 * or abort path and orders cancels the order on `checkout.failed`.
 * Emits `inventory.committed` (order id and number, line snapshots from the order): the saga's
 * success signal for checkout. Undone by: `orders.cancelled` (inventory.cancel-commitment).
 */
import { type ConsumerSpec, type Logger, TerminalError } from "@codflow/shared";
import { closeReservation } from "../db/close-reservation.ts";
import type { InventoryMetrics } from "../metrics.ts";

export function onOrdersConfirmed({
  logger,
  metrics,
}: {
  logger: Logger;
  metrics: InventoryMetrics;
}): ConsumerSpec<"orders.confirmed"> {
  return {
    name: "inventory.commit-reservation",
    type: "orders.confirmed",
    async handle({ data }, tx) {
      const { reservationId, checkoutId, orderId } = data;
      const previous = await closeReservation(tx.sql, {
        checkoutId,
        reservationId,
        kind: "commit",
      });
      if (previous === undefined) {
        throw new TerminalError(
          `order ${orderId}: no reservation ${reservationId} for checkout ${checkoutId}`,
        );
      }
      if (previous === "active") {
        await tx.emit({
          type: "inventory.committed",
          correlationId: checkoutId,
          data: {
            checkoutId,
            reservationId,
            orderId,
            orderNumber: data.orderNumber,
            customerId: data.customerId,
            items: data.items,
            totalMinor: data.totalMinor,
            currency: data.currency,
          },
        });
        return;
      }
      if (previous === "committed") return;
      metrics.lateCommits.inc({ reservation_status: previous });
      logger.warn(
        { orderId, reservationId, checkoutId, reservationStatus: previous },
        "order confirmed after its reservation closed; nothing committed",
      );
    },
  };
}
