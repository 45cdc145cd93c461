/**
 * checkout.on-inventory-rejected — on `inventory.rejected`: a checkout still processing fails
 * with inventory's reason; the customer reads one sentence naming each rejected line, and the
 * per-line reasons stay available as `failure.lines`. The cart is kept as it is.
 * Emits: `checkout.failed` (the customer is told why).
 * Undone by: nothing — failed is final and nothing was reserved. An outcome for a checkout
 * already terminal is recorded, not applied.
 */
import type { ConsumerSpec } from "@codflow/shared";
import { catalogTitles } from "../db/catalog.ts";
import { describeRejection } from "../domain/failure-summary.ts";
import { failCheckout } from "./fail-checkout.ts";
import type { OutcomeDeps } from "./terminal-outcome.ts";

export function onInventoryRejected(deps: OutcomeDeps): ConsumerSpec<"inventory.rejected"> {
  return {
    name: "checkout.on-inventory-rejected",
    type: "inventory.rejected",
    async handle(event, tx) {
      const { checkoutId, reason, lines } = event.data;
      const titles = await catalogTitles(
        tx.sql,
        lines.map((l) => l.variantId),
      );
      await failCheckout(tx, deps, event, {
        checkoutId,
        reason,
        detail: describeRejection(lines, titles),
        lines,
      });
    },
  };
}
