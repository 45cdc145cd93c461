import { type Logger, TerminalError, type TxSql } from "@codflow/shared";
import { checkoutStatusOf } from "../db/checkout-outcomes.ts";

/**
 * An outcome arrived for a checkout that is no longer processing: it is not applied, only
 * reported with both states (compensating it, e.g. cancelling a second order, is the failures
 * issue). A checkout this service never had is a broken invariant: dead-letter it.
 */
export async function reportOutcomeNotApplied(
  tx: TxSql,
  logger: Logger,
  { checkoutId, incoming }: { checkoutId: string; incoming: Record<string, unknown> },
) {
  const current = await checkoutStatusOf(tx, checkoutId);
  if (!current) throw new TerminalError(`outcome for unknown checkout ${checkoutId}`);
  logger.warn(
    { checkoutId, current, incoming },
    "outcome for a checkout already terminal was not applied",
  );
}
