/**
 * checkout.on-inventory-reservation-expired — on `inventory.reservation_expired`: inventory's sweeper gave
 * the held stock back before an order claimed it, so a checkout still processing fails with
 * `reservation_expired`; the cart is kept as it is.
 * Emits: `checkout.failed` (the customer is told; orders voids or cancels on it).
 * Undone by: nothing — failed is final and the stock is already back. An outcome for a checkout
 * already terminal is recorded, not applied.
 */
import type { ConsumerSpec } from "@codflow/shared";
import { RESERVATION_EXPIRED_DETAIL } from "../domain/failure-summary.ts";
import { failCheckout } from "./fail-checkout.ts";
import type { OutcomeDeps } from "./terminal-outcome.ts";

export function onInventoryReservationExpired(
  deps: OutcomeDeps,
): ConsumerSpec<"inventory.reservation_expired"> {
  return {
    name: "checkout.on-inventory-reservation-expired",
    type: "inventory.reservation_expired",
    async handle(event, tx) {
      await failCheckout(tx, deps, event, {
        checkoutId: event.data.checkoutId,
        reason: "reservation_expired",
        detail: RESERVATION_EXPIRED_DETAIL,
      });
    },
  };
}
