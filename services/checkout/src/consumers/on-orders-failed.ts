/**
 * checkout.on-orders-failed — on `orders.failed`: a checkout still processing fails with
 * `order_failed` (orders' message in the sentence the customer reads); the cart is kept as it is.
 * Emits: `checkout.failed` (the customer is told).
 * Undone by: nothing — failed is final; inventory releases the reservation on the same event.
 * An outcome for a checkout already terminal is recorded, not applied.
 */
import type { ConsumerSpec } from "@codflow/shared";
import { describeOrderFailure } from "../domain/failure-summary.ts";
import { failCheckout } from "./fail-checkout.ts";
import type { OutcomeDeps } from "./terminal-outcome.ts";

export function onOrdersFailed(deps: OutcomeDeps): ConsumerSpec<"orders.failed"> {
  return {
    name: "checkout.on-orders-failed",
    type: "orders.failed",
    async handle(event, tx) {
      const { checkoutId, detail } = event.data;
      await failCheckout(tx, deps, event, {
        checkoutId,
        reason: "order_failed",
        detail: describeOrderFailure(detail),
      });
    },
  };
}
