/**
 * inventory.release-reservation — on `orders.failed`, gives the checkout's reserved stock back
 * in one statement: status released, reserved -= qty per line, a `release` ledger row per line.
 * A reservation already released, expired or cancelled changes nothing. A committed one means
 * an order both confirmed and failed: a broken invariant, thrown as a TerminalError naming it.
 * Emits nothing (checkout learns the failure from `orders.failed` itself).
 * Compensates: inventory.reserve-stock.
 */
import { type ConsumerSpec, TerminalError } from "@codflow/shared";
import { closeReservation } from "../db/close-reservation.ts";

export function onOrdersFailed(): ConsumerSpec<"orders.failed"> {
  return {
    name: "inventory.release-reservation",
    type: "orders.failed",
    async handle({ data }, tx) {
      const { reservationId, checkoutId } = data;
      const previous = await closeReservation(tx.sql, {
        reservationId,
        checkoutId,
        kind: "release",
      });
      if (previous === undefined) {
        throw new TerminalError(
          `no reservation ${reservationId} for checkout ${checkoutId} to release`,
        );
      }
      if (previous === "committed") {
        throw new TerminalError(
          `orders.failed for reservation ${reservationId} (checkout ${checkoutId}), which is already committed`,
        );
      }
    },
  };
}
