/**
 * inventory.abort-checkout — on `checkout.failed` (the saga's abort signal), makes sure the
 * checkout holds no reserved stock:
 *   - no reservation yet: inserts a `void` tombstone (no lines), so a `checkout.requested`
 *     arriving late finds the checkout taken and reserves nothing (unique checkout_id decides
 *     a race with it);
 *   - an active reservation: released in one statement (status released, reserved -= qty,
 *     a `release` ledger row per line);
 *   - committed: nothing here (orders cancels the order, `orders.cancelled` frees the stock);
 *     released, expired, void or cancelled: already free.
 * Emits nothing. Compensates: inventory.reserve-stock.
 */
import type { ConsumerSpec } from "@codflow/shared";
import { v7 as uuidv7 } from "uuid";
import { closeReservation, insertVoidReservation } from "../db/close-reservation.ts";

export function onCheckoutFailed(): ConsumerSpec<"checkout.failed"> {
  return {
    name: "inventory.abort-checkout",
    type: "checkout.failed",
    async handle({ data }, tx) {
      const { checkoutId } = data;
      if (await insertVoidReservation(tx.sql, { reservationId: uuidv7(), checkoutId })) return;
      await closeReservation(tx.sql, { checkoutId, kind: "release" });
    },
  };
}
