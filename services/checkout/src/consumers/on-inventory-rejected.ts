/**
 * checkout.on-inventory-rejected — on `inventory.rejected`: a checkout still processing fails
 * with inventory's reason, the rejected lines as detail; the cart is kept as it is.
 * Emits: `checkout.failed` (the customer is told why).
 * Undone by: nothing — failed is final and nothing was reserved. An outcome for a checkout
 * already terminal is not applied, only reported.
 */
import type { ConsumerSpec, Logger } from "@codflow/shared";
import { catalogTitles } from "../db/catalog.ts";
import { markCheckoutFailed } from "../db/checkout-outcomes.ts";
import { describeRejection } from "../domain/failure-summary.ts";
import { reportOutcomeNotApplied } from "./terminal-outcome.ts";

export function onInventoryRejected({
  logger,
}: {
  logger: Logger;
}): ConsumerSpec<"inventory.rejected"> {
  return {
    name: "checkout.on-inventory-rejected",
    type: "inventory.rejected",
    async handle(event, tx) {
      const { checkoutId, reason, lines } = event.data;
      const failed = await markCheckoutFailed(tx.sql, { checkoutId, reason, detail: lines });
      if (!failed) {
        await reportOutcomeNotApplied(tx.sql, logger, {
          checkoutId,
          incoming: { type: event.type, eventId: event.id, reason },
        });
        return;
      }
      const titles = await catalogTitles(
        tx.sql,
        lines.map((l) => l.variantId),
      );
      await tx.emit({
        type: "checkout.failed",
        correlationId: checkoutId,
        data: {
          checkoutId,
          customerId: failed.customerId,
          customerEmail: failed.customerEmail,
          reason,
          detail: describeRejection(lines, titles),
        },
      });
    },
  };
}
