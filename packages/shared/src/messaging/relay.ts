import { headers as natsHeaders } from "@nats-io/transport-node";
import type { Sql } from "../db.ts";
import { type Logger, redactPii } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import {
  extractTraceContext,
  inDbSpan,
  injectTraceContext,
  inSpan,
  SpanKind,
  tracer,
} from "../telemetry.ts";
import type { Broker } from "./nats.ts";
import { OUTBOX_CHANNEL, uuidv7Floor } from "./outbox.ts";
import { startWorkerLoop } from "./worker-loop.ts";

export interface RelayOptions {
  sql: Sql;
  broker: Broker;
  logger: Logger;
  metrics: Metrics;
  batchSize?: number;
  /** A crashed relay's claim expires after this; another replica then takes the rows. */
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
 * Publishes outbox rows: claims a batch by state with SKIP LOCKED and a lease (never by an id
 * watermark: transactions commit out of order), publishes them pipelined with the event id as
 * Nats-Msg-Id, then marks the acknowledged ones in one statement. Several replicas get
 * disjoint batches; a row whose publish failed is retried after a short back-off.
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

  const claim = () => sql<ClaimedRow[]>`
    with due as (
      select id from outbox
      where published_at is null and (locked_until is null or locked_until < now())
      order by created_at
      limit ${batchSize}
      for update skip locked
    )
    update outbox o
    set locked_until = now() + make_interval(secs => ${leaseSeconds}), attempts = o.attempts + 1
    from due where o.id = due.id
    returning o.id, o.resends, o.subject, o.type, o.envelope::text as payload, o.headers`;

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
        await broker.js.publish(row.subject, row.payload, { msgID, headers: h, timeout: 5000 });
      },
    );

  const runOnce = async () => {
    const claimStarted = Date.now();
    const rows = await claim();
    if (rows.length > 0) {
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
      if (sent.length > 0) {
        // one statement, its own transaction: no BEGIN and COMMIT round trips around it
        await inDbSpan(
          "outbox.mark-published",
          () => sql`update outbox set published_at = now(), locked_until = null, last_error = null
                    where id = any(${sent}::uuid[])`,
        );
      }
      if (failed.length > 0) {
        const reason = String(
          (results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason,
        );
        await sql`update outbox
                  set locked_until = now() + make_interval(secs => least(0.1 * power(2, attempts), 5)),
                      last_error = ${reason}
                  where id = any(${failed}::uuid[])`;
        logger.warn(
          { failed: failed.length, reason: redactPii(reason) },
          "outbox publish failed; will retry",
        );
      }
      metrics.outboxPublished.inc({ result: "ok" }, sent.length);
      metrics.outboxPublished.inc({ result: "error" }, failed.length);
    }
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
