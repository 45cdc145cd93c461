import type { MessageTx } from "@codflow/shared";
import { type CheckoutFailure, markCheckoutFailed } from "../db/checkout-outcomes.ts";
import { type OutcomeDeps, reportOutcomeNotApplied } from "./terminal-outcome.ts";

/**
 * Fails a checkout still processing and tells the customer (`checkout.failed` carries the same
 * sentence the API shows); for a checkout already terminal the outcome is only recorded.
 */
export async function failCheckout(
  tx: MessageTx,
  deps: OutcomeDeps,
  event: { type: string; id: string },
  failure: CheckoutFailure,
) {
  const { checkoutId, reason, detail } = failure;
  const failed = await markCheckoutFailed(tx.sql, failure);
  if (!failed) {
    await reportOutcomeNotApplied(tx.sql, deps, { checkoutId, event, incoming: { reason } });
    return;
  }
  tx.afterCommit(() => deps.metrics.settled("failed", reason, Number(failed.ageSeconds)));
  await tx.emit({
    type: "checkout.failed",
    correlationId: checkoutId,
    data: {
      checkoutId,
      customerId: failed.customerId,
      customerEmail: failed.customerEmail,
      reason,
      detail,
    },
  });
}
