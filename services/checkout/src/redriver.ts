import {
  appendToOutbox,
  inTransaction,
  type Logger,
  type Sql,
  startWorkerLoop,
} from "@codflow/shared";
import type { Config } from "./config.ts";
import {
  claimStalledCheckouts,
  failOverdueCheckouts,
  resendCheckoutRequests,
} from "./db/redrive.ts";
import { TIMED_OUT_DETAIL } from "./domain/failure-summary.ts";
import type { CheckoutMetrics } from "./metrics.ts";

export interface RedriverDeps {
  config: Pick<
    Config,
    "CHECKOUT_REDRIVE_INTERVAL_MS" | "CHECKOUT_REDRIVE_AFTER_SECONDS" | "CHECKOUT_DEADLINE_SECONDS"
  >;
  sql: Sql;
  /** The NATS namespace `checkout.failed` is appended under. */
  namespace: string;
  logger: Logger;
  metrics: CheckoutMetrics;
  /** Checkouts claimed per step and round. */
  batchSize?: number;
}

/**
 * Keeps the promise that every accepted checkout ends: every CHECKOUT_REDRIVE_INTERVAL_MS, in
 * one transaction, (a) re-sends the `checkout.requested` of checkouts that made no progress for
 * CHECKOUT_REDRIVE_AFTER_SECONDS (the broker may have lost a message anywhere down the chain:
 * each inbox re-sends what it caused), and (b) fails with `timed_out` the checkouts still
 * processing CHECKOUT_DEADLINE_SECONDS after acceptance, emitting `checkout.failed`, which
 * inventory and orders honour as the abort signal. Safe with any number of replicas (SKIP
 * LOCKED claims, conditional updates). No LISTEN channel: only time makes work here.
 */
export function startRedriver({
  config,
  sql,
  namespace,
  logger,
  metrics,
  batchSize = 100,
}: RedriverDeps) {
  metrics.deadline.set(config.CHECKOUT_DEADLINE_SECONDS);
  const runOnce = async () => {
    const { redriven, timedOut } = await inTransaction(sql, "checkout.redrive", async (tx) => {
      const stalled = await claimStalledCheckouts(tx, {
        stalledSeconds: config.CHECKOUT_REDRIVE_AFTER_SECONDS,
        deadlineSeconds: config.CHECKOUT_DEADLINE_SECONDS,
        limit: batchSize,
      });
      await resendCheckoutRequests(tx, stalled);
      const overdue = await failOverdueCheckouts(tx, {
        deadlineSeconds: config.CHECKOUT_DEADLINE_SECONDS,
        limit: batchSize,
      });
      await appendToOutbox(
        tx,
        namespace,
        overdue.map((c) => ({
          type: "checkout.failed" as const,
          correlationId: c.id,
          causationId: null,
          data: {
            checkoutId: c.id,
            customerId: c.customerId,
            customerEmail: c.customerEmail,
            reason: "timed_out" as const,
            detail: TIMED_OUT_DETAIL,
          },
        })),
      );
      return { redriven: stalled, timedOut: overdue };
    });
    if (redriven.length > 0) {
      metrics.redrives.inc(redriven.length);
      logger.warn({ checkoutIds: redriven }, "re-drove stalled checkouts");
    }
    if (timedOut.length > 0) {
      metrics.timedOut.inc(timedOut.length);
      for (const c of timedOut) metrics.settled("failed", "timed_out", Number(c.ageSeconds));
      logger.warn({ checkoutIds: timedOut.map((c) => c.id) }, "checkouts timed out");
    }
    return { more: redriven.length === batchSize || timedOut.length === batchSize };
  };

  return startWorkerLoop({
    name: "checkout-redriver",
    sql,
    pollMs: config.CHECKOUT_REDRIVE_INTERVAL_MS,
    logger,
    runOnce,
  });
}
