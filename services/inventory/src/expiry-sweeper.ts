/**
 * inventory.expiry-sweeper — every `pollMs`, releases the active reservations no order claimed
 * before their expiry: one transaction per batch of up to 200 (claimed with SKIP LOCKED, so
 * replicas sweep disjoint batches), stock back with `expire` ledger rows, and one
 * `inventory.reservation_expired` per reservation (correlation = checkout, no causation), which
 * makes checkout fail with `reservation_expired`. Runs again at once while batches come back full.
 * Races with inventory.commit-reservation on the reservation's row lock: exactly one wins.
 */
import {
  appendToOutbox,
  inTransaction,
  type Logger,
  type Sql,
  startWorkerLoop,
  type WorkerLoop,
} from "@codflow/shared";
import { EXPIRY_BATCH_SIZE, expireDueReservations } from "./db/expire-reservations.ts";
import { isoTimestamp } from "./db/timestamps.ts";
import type { InventoryMetrics } from "./metrics.ts";

export interface ExpirySweeperDeps {
  sql: Sql;
  namespace: string;
  logger: Logger;
  metrics: InventoryMetrics;
}

/** One batch: expires what is due and appends its events, in one transaction. */
export async function sweepExpiredReservations({
  sql,
  namespace,
  logger,
  metrics,
}: ExpirySweeperDeps) {
  const expired = await inTransaction(sql, "inventory.expire-reservations", async (tx) => {
    const rows = await expireDueReservations(tx);
    await appendToOutbox(
      tx,
      namespace,
      rows.map((r) => ({
        type: "inventory.reservation_expired" as const,
        correlationId: r.checkoutId,
        causationId: null,
        data: {
          checkoutId: r.checkoutId,
          reservationId: r.reservationId,
          expiredAt: isoTimestamp(r.expiredAt),
        },
      })),
    );
    return rows;
  });
  if (expired.length > 0) {
    metrics.reservationsExpired.inc(expired.length);
    logger.info({ expired: expired.length }, "reservations expired");
  }
  return { expired: expired.length, more: expired.length === EXPIRY_BATCH_SIZE };
}

export function startExpirySweeper(deps: ExpirySweeperDeps & { pollMs: number }): WorkerLoop {
  return startWorkerLoop({
    name: "inventory.expiry-sweeper",
    sql: deps.sql,
    pollMs: deps.pollMs,
    logger: deps.logger,
    runOnce: () => sweepExpiredReservations(deps),
  });
}
