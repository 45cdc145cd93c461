/**
 * inventory.commit-reservation — on `orders.confirmed`, turns the checkout's active reservation
 * into a commitment in one statement: status committed, reserved -= qty and committed += qty
 * per line, a `commit` ledger row per line. An already committed reservation changes nothing.
 * A released or expired one is a race this consumer must not hide (an order exists for stock
 * that was given back): it throws a TerminalError naming the reservation, so the message is
 * dead-lettered and alerted on.
 * Emits nothing. Undone by: nothing here (a cancelled or returned order restocks elsewhere).
 */
import { type ConsumerSpec, TerminalError } from "@codflow/shared";
import { closeReservation } from "../db/close-reservation.ts";

export function onOrdersConfirmed(): ConsumerSpec<"orders.confirmed"> {
  return {
    name: "inventory.commit-reservation",
    type: "orders.confirmed",
    async handle({ data }, tx) {
      const { reservationId, checkoutId } = data;
      const previous = await closeReservation(tx.sql, {
        reservationId,
        checkoutId,
        kind: "commit",
      });
      if (previous === undefined) {
        throw new TerminalError(
          `order ${data.orderId}: no reservation ${reservationId} for checkout ${checkoutId}`,
        );
      }
      if (previous === "released" || previous === "expired") {
        throw new TerminalError(
          `order ${data.orderId} confirmed but reservation ${reservationId} (checkout ${checkoutId}) is already ${previous}`,
        );
      }
    },
  };
}
