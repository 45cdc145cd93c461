/**
 * checkout.on-inventory-reservation-expired — on `inventory.reservation_expired`: inventory's sweeper gave
 * the held stock back before an order claimed it, so a checkout still processing fails with
 * `reservation_expired`; the cart is kept as it is. A batch fails its checkouts in one statement.
 * Emits: `checkout.failed` (the customer is told; orders voids or cancels on it).
 * Undone by: nothing — failed is final and the stock is already back. An outcome for a checkout
 * already terminal is recorded, not applied.
 */
import type { ConsumerSpec, EventOf } from "@codflow/shared";
import type { CheckoutFailure } from "../db/checkout-outcomes.ts";
import { RESERVATION_EXPIRED_DETAIL } from "../domain/failure-summary.ts";
import { failCheckout, failCheckoutsOfBatch } from "./fail-checkout.ts";
import type { OutcomeDeps } from "./terminal-outcome.ts";

export function onInventoryReservationExpired(
  deps: OutcomeDeps,
): ConsumerSpec<"inventory.reservation_expired"> {
  return {
    name: "checkout.on-inventory-reservation-expired",
    type: "inventory.reservation_expired",
    async handle(event, tx) {
      await failCheckout(tx, deps, event, expiry(event));
    },
    async handleBatch(events, tx) {
      await failCheckoutsOfBatch(
        tx,
        deps,
        events.map((source) => ({ source, failure: expiry(source) })),
      );
    },
  };
}

const expiry = ({ data }: EventOf<"inventory.reservation_expired">): CheckoutFailure => ({
  checkoutId: data.checkoutId,
  reason: "reservation_expired",
  detail: RESERVATION_EXPIRED_DETAIL,
});
