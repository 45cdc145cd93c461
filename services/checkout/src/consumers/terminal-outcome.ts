import { type Logger, TerminalError, type TxSql } from "@codflow/shared";
import { checkoutStatusOf } from "../db/checkout-outcomes.ts";
import type { CheckoutMetrics } from "../metrics.ts";

/** What a consumer of an outcome needs besides its transaction. */
export interface OutcomeDeps {
  logger: Logger;
  metrics: CheckoutMetrics;
}

/**
 * An outcome arrived for a checkout that is no longer processing: it is recorded (a warning and
 * `codflow_checkout_late_outcomes_total{event,state}`), never applied; the other services
 * converge on `checkout.failed` (DESIGN.md failure protocol). A checkout this service never
 * had is a broken invariant: dead-letter it.
 */
export async function reportOutcomeNotApplied(
  tx: TxSql,
  { logger, metrics }: OutcomeDeps,
  {
    checkoutId,
    event,
    incoming,
  }: { checkoutId: string; event: { type: string; id: string }; incoming: Record<string, unknown> },
) {
  const current = await checkoutStatusOf(tx, checkoutId);
  if (!current) throw new TerminalError(`outcome for unknown checkout ${checkoutId}`);
  metrics.lateOutcomes.inc({ event: event.type, state: current.status });
  logger.warn(
    { checkoutId, current, incoming: { type: event.type, eventId: event.id, ...incoming } },
    "outcome for a checkout already terminal was not applied",
  );
}
