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
import { addOutboxLane, OUTBOX_CHANNEL, type OutboxRow, uuidv7Floor } from "./outbox.ts";
import { type Iteration, startWorkerLoop } from "./worker-loop.ts";

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
  /**
   * How long published ids may wait to be marked together (0: each publish marks its own).
   * Must stay far below the lease: an unmarked row is kept from every claim only by its lease.
   */
  markDelayMs?: number;
}

/**
 * Publishes outbox rows: claims a batch by state with SKIP LOCKED and a lease (never by an id
 * watermark: transactions commit out of order), publishes them pipelined with the event id as
 * Nats-Msg-Id, then marks the acknowledged ones in one statement. Several replicas get
 * disjoint batches; a row whose publish failed is retried after a short back-off.
 *
 * Rows this process's `inTransaction` commits come through the fast lane instead (outbox.ts
 * `OutboxLane`): leased to this relay by their insert and handed over at commit, they are
 * published without a claim, in batches like claimed ones. The claim still runs on every wake
 * on the channel, every `pollMs` and while it finds full batches: for other processes' rows,
 * re-sends, and leases that ran out. The claim's commit skips the WAL flush: a claim lost in a
 * crash only frees its rows for the next claim. The mark's does not: re-sends (the re-driver, a
 * duplicate input, a rebuilt stream) pick rows by their publication, which must not vanish.
 *
 * The mark waits up to `markDelayMs` for the marks of later publishes (`createMarker`): it is on
 * no event's path, and below saturation each publish carried a few rows, so every hop paid a
 * commit of its own for them.
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
  markDelayMs = 100,
}: RelayOptions) {
  let lastCleanup = 0;
  let claimedFullBatch = false;
  let stopped = false;
  const handed: OutboxRow[] = [];

  const claim = () => sql<OutboxRow[]>`
    with due as (
      select id from outbox
      where published_at is null and (locked_until is null or locked_until < now())
      order by created_at
      limit ${batchSize}
      for update skip locked
    )
    update outbox o
    set locked_until = now() + make_interval(secs => ${leaseSeconds}), attempts = o.attempts + 1
    from due, (select set_config('synchronous_commit', 'off', true)) as no_flush
    where o.id = due.id
    returning o.id, o.resends, o.subject, o.type, o.envelope::text as payload, o.headers`;

  const publish = (row: OutboxRow) =>
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

  const marker = createMarker({ sql, logger, delayMs: markDelayMs });

  /** Publishes `rows` pipelined, marks the sent ones published and backs off the failed ones. */
  const publishAll = async (rows: OutboxRow[]) => {
    const sentAt = new Date().toISOString();
    const results = await Promise.allSettled(rows.map(publish));
    const sent = rows.filter((_, i) => results[i]?.status === "fulfilled");
    const failed = rows.filter((_, i) => results[i]?.status === "rejected").map((r) => r.id);
    await marker.add(sent, sentAt);
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
  };

  const claimBatch = async () => {
    const claimStarted = Date.now();
    const rows = await claim();
    claimedFullBatch = rows.length === batchSize;
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
    }
    return rows;
  };

  const runOnce = async ({ due }: Iteration) => {
    const taken = handed.splice(0, batchSize);
    try {
      const claimed = due || claimedFullBatch ? await claimBatch() : [];
      const rows = [...taken, ...claimed];
      if (rows.length > 0) await publishAll(rows);
    } catch (err) {
      handed.unshift(...taken); // published again at the next try: Nats-Msg-Id absorbs it
      throw err;
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
    return { more: handed.length > 0 || claimedFullBatch };
  };

  const loop = startWorkerLoop({
    name: "outbox-relay",
    sql,
    channel: OUTBOX_CHANNEL,
    pollMs,
    logger,
    runOnce,
  });
  /** Gives rows leased to this relay back to every relay's claim (or lets their lease run out). */
  const releaseLater = (rows: OutboxRow[]) =>
    sql`update outbox set locked_until = null
        where id = any(${rows.map((r) => r.id)}::uuid[]) and published_at is null`.catch(
      (err: unknown) =>
        logger.warn(
          { err, rows: rows.length },
          "could not release outbox rows; their lease runs out",
        ),
    );
  const removeLane = addOutboxLane(sql, {
    leaseSeconds,
    take(rows) {
      if (stopped) {
        void releaseLater(rows);
        return;
      }
      handed.push(...rows);
      loop.nudge();
    },
  });
  return {
    ...loop,
    async stop() {
      stopped = true;
      removeLane();
      await loop.stop();
      await marker.close();
      if (handed.length > 0) await releaseLater(handed.splice(0));
    },
  };
}

/**
 * Marks published rows in one statement per `delayMs` (or per `MAX_MARK` ids) instead of one per
 * publish, each row with the time it was sent. One mark is in flight at a time; a failed one is
 * tried again, backing off up to 5 s. Until its mark lands a row is still leased to this relay,
 * so no claim publishes it again; should the process die first, the lease runs out and the row is
 * published again under the same Nats-Msg-Id (as when it died between publish and mark).
 */
function createMarker({ sql, logger, delayMs }: { sql: Sql; logger: Logger; delayMs: number }) {
  /** Each row as it was sent: a re-send moves `resends` on, and the mark then leaves it alone. */
  const waiting: { id: string; resends: number; sentAt: string }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  let closed = false;
  let failures = 0;

  const markNow = async (batch: typeof waiting) => {
    try {
      // one statement, its own transaction: no BEGIN and COMMIT round trips around it
      await inDbSpan(
        "outbox.mark-published",
        () => sql`update outbox o set published_at = m.sent_at::timestamptz, locked_until = null, last_error = null
                  from unnest(${batch.map((r) => r.id)}::uuid[], ${batch.map((r) => r.resends)}::int[],
                              ${batch.map((r) => r.sentAt)}::text[]) as m(id, resends, sent_at)
                  where o.id = m.id and o.resends = m.resends`,
      );
      failures = 0;
    } catch (err) {
      logger.warn(
        { err, rows: batch.length },
        closed
          ? "could not mark outbox rows published; they are published again after their lease"
          : "marking outbox rows published failed; retrying",
      );
      if (closed) return;
      waiting.unshift(...batch);
      failures += 1;
      schedule(Math.min(5000, 100 * 2 ** failures)); // a failing database is not hammered
    }
  };
  /** Queues one mark of what waits (up to MAX_MARK rows) behind the one in flight. */
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (waiting.length > 0) {
      const batch = waiting.splice(0, MAX_MARK);
      inFlight = inFlight.then(() => markNow(batch));
      if (waiting.length > 0) schedule(); // what one statement could not take
    }
    return inFlight;
  };
  const schedule = (ms = delayMs) => {
    timer ??= setTimeout(flush, ms);
  };
  return {
    /** Waits only without a delay, or when a whole statement's worth waits (marks falling behind). */
    add(sent: OutboxRow[], sentAt: string): Promise<void> {
      for (const { id, resends } of sent) waiting.push({ id, resends, sentAt });
      if (waiting.length === 0) return Promise.resolve();
      if (delayMs === 0 || waiting.length >= MAX_MARK) return flush();
      schedule();
      return Promise.resolve();
    },
    /** A stopping relay: marks what was added, each statement tried once. */
    async close() {
      closed = true;
      while (waiting.length > 0) flush();
      await inFlight;
      clearTimeout(timer);
    },
  };
}

/** The most ids one mark statement carries. */
const MAX_MARK = 1000;
