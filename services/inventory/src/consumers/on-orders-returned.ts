/**
 * inventory.restock-return — on `orders.returned` (the parcel is back at the vendor), puts the
 * order's committed stock back on sale in one statement: the committed reservation becomes
 * returned, committed -= qty per line, a `restock` ledger row per line. Exactly once: the inbox
 * drops a redelivery, and the status move (committed → returned only) makes any second
 * `orders.returned` for the reservation a no-op. A reservation that never committed holds no
 * stock: nothing to restock, logged. Emits nothing. Final: nothing undoes a return.
 */
import { type ConsumerSpec, type Logger, TerminalError } from "@codflow/shared";
import { closeReservation } from "../db/close-reservation.ts";

export function onOrdersReturned({ logger }: { logger: Logger }): ConsumerSpec<"orders.returned"> {
  return {
    name: "inventory.restock-return",
    type: "orders.returned",
    async handle({ data }, tx) {
      const { reservationId, checkoutId, orderId } = data;
      const previous = await closeReservation(tx.sql, {
        checkoutId,
        reservationId,
        kind: "restock",
      });
      if (previous === undefined) {
        throw new TerminalError(
          `order ${orderId} returned but checkout ${checkoutId} has no reservation ${reservationId}`,
        );
      }
      if (previous !== "committed" && previous !== "returned") {
        logger.warn(
          { orderId, reservationId, checkoutId, reservationStatus: previous },
          "order returned but its reservation holds no committed stock; nothing restocked",
        );
      }
    },
  };
}
