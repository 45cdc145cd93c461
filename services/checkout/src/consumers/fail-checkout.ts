import {
  type BatchTx,
  type EventOf,
  type EventType,
  type MessageTx,
  type NewEvent,
  RetryableError,
  type TxSql,
} from "@codflow/shared";
import { type CheckoutFailure, markCheckoutsFailed } from "../db/checkout-outcomes.ts";
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
  const [failed] = await failCheckouts(tx.sql, deps, [{ source: event, failure }]);
  if (!failed) return;
  tx.afterCommit(() => deps.metrics.settled("failed", failure.reason, failed.ageSeconds));
  await tx.emit(failed.output);
}

/**
 * `failCheckout` for a batch, each event with the failure it says: one statement fails every
 * checkout still processing, each output leaves with its source's correlation. A checkout twice
 * in the batch retries one event at a time, where the second finds it failed.
 */
export async function failCheckoutsOfBatch<T extends EventType>(
  tx: BatchTx<T>,
  deps: OutcomeDeps,
  outcomes: { source: EventOf<T>; failure: CheckoutFailure }[],
) {
  if (new Set(outcomes.map(({ failure }) => failure.checkoutId)).size < outcomes.length) {
    throw new RetryableError("a checkout appears twice in the batch");
  }
  const failed = await failCheckouts(tx.sql, deps, outcomes);
  tx.afterCommit(() => {
    for (const { reason, ageSeconds } of failed) deps.metrics.settled("failed", reason, ageSeconds);
  });
  for (const { source, output } of failed) tx.emitFor(source, output);
}

/** Fails the distinct checkouts still processing; reports the others as outcomes not applied. */
async function failCheckouts<E extends { type: string; id: string }>(
  sql: TxSql,
  deps: OutcomeDeps,
  outcomes: { source: E; failure: CheckoutFailure }[],
) {
  const rows = await markCheckoutsFailed(
    sql,
    outcomes.map(({ failure }) => failure),
  );
  const byCheckout = new Map(rows.map((row) => [row.checkoutId, row]));
  const failed: { source: E; reason: string; ageSeconds: number; output: NewEvent }[] = [];
  for (const { source, failure } of outcomes) {
    const { checkoutId, reason, detail } = failure;
    const row = byCheckout.get(checkoutId);
    if (!row) {
      await reportOutcomeNotApplied(sql, deps, { checkoutId, event: source, incoming: { reason } });
      continue;
    }
    failed.push({
      source,
      reason,
      ageSeconds: Number(row.ageSeconds),
      output: {
        type: "checkout.failed",
        correlationId: checkoutId,
        data: {
          checkoutId,
          customerId: row.customerId,
          customerEmail: row.customerEmail,
          reason,
          detail,
        },
      },
    });
  }
  return failed;
}
