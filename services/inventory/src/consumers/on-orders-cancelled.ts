/**
 * inventory.cancel-commitment — on `orders.cancelled`, gives the order's stock back in one
 * statement: a committed reservation becomes cancelled (committed -= qty per line, a `release`
 * ledger row per line with the committed delta); one still active is released (reserved -= qty).
 * Anything else (released, expired, void, already cancelled) holds no stock: nothing to do.
 * Emits nothing. Compensates: inventory.commit-reservation (and inventory.reserve-stock).
 */
import { type ConsumerSpec, TerminalError } from "@codflow/shared";
import { closeReservation } from "../db/close-reservation.ts";

export function onOrdersCancelled(): ConsumerSpec<"orders.cancelled"> {
  return {
    name: "inventory.cancel-commitment",
    type: "orders.cancelled",
    async handle({ data }, tx) {
      const { reservationId, checkoutId } = data;
      const previous = await closeReservation(tx.sql, {
        checkoutId,
        reservationId,
        kind: "cancel",
      });
      if (previous === undefined) {
        throw new TerminalError(
          `order ${data.orderId} cancelled but checkout ${checkoutId} has no reservation ${reservationId}`,
        );
      }
      if (previous === "active") {
        await closeReservation(tx.sql, { checkoutId, reservationId, kind: "release" });
      }
    },
  };
}
