import { headers as natsHeaders } from "@nats-io/transport-node";
import type { Sql, TxSql } from "../db.ts";
import { type Logger, redactPii } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { extractTraceContext, injectTraceContext, inSpan, SpanKind, tracer } from "../telemetry.ts";
import type { Broker } from "./nats.ts";
import { OUTBOX_CHANNEL, uuidv7Floor } from "./outbox.ts";
import { startWorkerLoop } from "./worker-loop.ts";

export interface RelayOptions {
  sql: Sql;
  broker: Broker;
  logger: Logger;
  metrics: Metrics;
  batchSize?: number;
  /** A relay stuck this long idle in its batch's transaction is cut off; another takes the rows. */
  leaseSeconds?: number;
  /** Published rows stay this long so duplicates can re-send them (far past the de-dup window). */
  retentionSeconds?: number;
  pollMs?: number;
}

interface ClaimedRow {
  id: string;
  resends: number;
  subject: string;
  payload: string;
  headers: Record<string, string>;
  type: string;
}

/**
 * Publishes outbox rows in batches, each in one transaction: claims the due rows by state with
 * FOR UPDATE SKIP LOCKED (never by an id watermark: transactions commit out of order), publishes
 * them pipelined with the event id as Nats-Msg-Id, marks the acknowledged ones published and
 * backs off the failed ones, and commits. Several replicas get disjoint batches. The claim is the
 * row lock itself, not a lease column written first: that update cost every row a new version
 * and five index entries. A relay that dies mid-batch loses its connection and with it the locks;
 * one that hangs is cut off by PostgreSQL after `leaseSeconds` idle in its transaction
 * (`idle_in_transaction_session_timeout`, set by the claim). Either way another relay takes the
 * rows, and the broker's de-dup window absorbs a second publish of any that went out.
 */
export function startOutboxRelay({
  sql,
  broker,
  logger,
  metrics,
  batchSize = 200,
  leaseSeconds = 30,
  retentionSeconds = 7 * 86_400,
  pollMs = 1000,
}: RelayOptions) {
  let lastCleanup = 0;
  // a publish must end well within the lease, or the lease would end every slow batch
  const publishTimeoutMs = Math.min(5000, leaseSeconds * 500);

  const claim = (tx: TxSql) => tx<ClaimedRow[]>`
    select o.id, o.resends, o.subject, o.type, o.envelope::text as payload, o.headers
    from outbox o,
         (select set_config('idle_in_transaction_session_timeout', ${`${leaseSeconds}s`}, true)) lease
    where o.published_at is null and (o.locked_until is null or o.locked_until < now())
    order by o.created_at
    limit ${batchSize}
    for update of o skip locked`;

  const publish = (row: ClaimedRow) =>
    inSpan(
      `publish ${row.type}`,
      {
        kind: SpanKind.PRODUCER,
        parent: extractTraceContext(row.headers),
        attributes: {
          "messaging.system": "nats",
          "messaging.operation.type": "send",
          "messaging.destination.name": row.subject,
          "messaging.message.id": row.id,
        },
      },
      async () => {
        const h = natsHeaders();
        for (const [key, value] of Object.entries(injectTraceContext())) h.set(key, value);
        h.set("Codflow-Event-Type", row.type);
        // a re-send gets a fresh message id: the broker's de-dup window must not swallow it
        const msgID = row.resends === 0 ? row.id : `${row.id}:${row.resends}`;
        await broker.js.publish(row.subject, row.payload, {
          msgID,
          headers: h,
          timeout: publishTimeoutMs,
        });
      },
    );

  /** One batch: claim, publish, record; `sent`/`failed` are known once the commit succeeded. */
  const relayBatch = (tx: TxSql) => {
    const claimStarted = Date.now();
    return claim(tx).then(async (rows) => {
      if (rows.length === 0) return { rows, sent: [], failed: [] as string[], reason: "" };
      // recorded only when the claim found work: an idle poll every second is not a trace
      tracer()
        .startSpan("db.transaction outbox.claim", {
          kind: SpanKind.CLIENT,
          startTime: claimStarted,
          attributes: {
            "db.system": "postgresql",
            "db.system.name": "postgresql",
            "db.operation.name": "outbox.claim",
            "codflow.outbox.rows": rows.length,
          },
        })
        .end();
      const results = await Promise.allSettled(rows.map(publish));
      const sent = rows.filter((_, i) => results[i]?.status === "fulfilled").map((r) => r.id);
      const failed = rows.filter((_, i) => results[i]?.status === "rejected").map((r) => r.id);
      const rejected = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      const reason = failed.length > 0 ? String(rejected.reason) : "";
      if (sent.length > 0) {
        await tx`update outbox
                 set published_at = now(), locked_until = null, last_error = null,
                     attempts = attempts + 1
                 where id = any(${sent}::uuid[])`;
      }
      if (failed.length > 0) {
        await tx`update outbox
                 set attempts = attempts + 1, last_error = ${reason},
                     locked_until = now() + make_interval(secs => least(0.1 * power(2, attempts), 5))
                 where id = any(${failed}::uuid[])`;
      }
      return { rows, sent, failed, reason };
    });
  };

  const runOnce = async () => {
    const { rows, sent, failed, reason } = await sql.begin(relayBatch);
    if (failed.length > 0) {
      logger.warn(
        { failed: failed.length, reason: redactPii(reason) },
        "outbox publish failed; will retry",
      );
    }
    metrics.outboxPublished.inc({ result: "ok" }, sent.length);
    metrics.outboxPublished.inc({ result: "error" }, failed.length);
    if (Date.now() - lastCleanup > 60_000) {
      lastCleanup = Date.now();
      // ids are UUIDv7, ordered by creation time: the primary key finds the old rows
      await sql`delete from outbox where id in (
                  select id from outbox
                  where id < ${uuidv7Floor(Date.now() - retentionSeconds * 1000)}::uuid
                    and published_at is not null
                  limit 5000)`;
    }
    return { more: rows.length === batchSize };
  };

  return startWorkerLoop({
    name: "outbox-relay",
    sql,
    channel: OUTBOX_CHANNEL,
    pollMs,
    logger,
    runOnce,
  });
}
