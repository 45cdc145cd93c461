import type { Sql } from "../db.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { type Broker, ensureStreams, isNotFound, STREAM_CONTEXTS, streamName } from "./nats.ts";
import { uuidv7Floor, wakeRelayAfter } from "./outbox.ts";
import { startWorkerLoop } from "./worker-loop.ts";

/**
 * Notices a broker rebuilt empty (DESIGN.md: survivable): a stream that vanished is re-created,
 * and when a stream's creation time changes — whoever re-created it — this service re-sends
 * every event it published into that stream among those created within `replayWindowSeconds`
 * (outbox ids are UUIDv7: the primary key finds them). Consumers' inboxes
 * make the re-sent events harmless where they had arrived; where the broker lost them, they heal
 * the hop, including the outputs of checkouts already terminal (their emails).
 */
export function startStreamWatch({
  sql,
  broker,
  logger,
  metrics,
  replayWindowSeconds,
  intervalMs = 5000,
}: {
  sql: Sql;
  broker: Broker;
  logger: Logger;
  metrics: Metrics;
  replayWindowSeconds: number;
  intervalMs?: number;
}) {
  const known = new Map<string, string>();
  const replayed = metrics.counter(
    "codflow_outbox_replayed_total",
    "Outbox rows re-sent because their stream was re-created (broker rebuilt empty).",
    ["stream"],
  );

  const replay = async (context: string) => {
    const rows = await sql`
      with resent as (
        update outbox set published_at = null, locked_until = null, resends = resends + 1
        where id > ${uuidv7Floor(Date.now() - replayWindowSeconds * 1000)}::uuid
          and (published_at is not null or locked_until is not null)
          and subject like ${`${broker.namespace}.${context}.%`}
        returning 1
      )
      select count(*)::int as n ${wakeRelayAfter(sql)} from resent`;
    return (rows[0]?.n as number) ?? 0;
  };

  const runOnce = async () => {
    for (const context of STREAM_CONTEXTS) {
      if (context === "deadletter") continue;
      const name = streamName(broker.namespace, context);
      const info = await broker.jsm.streams.info(name).catch(async (err: unknown) => {
        if (!isNotFound(err)) throw err;
        await ensureStreams(broker);
        return broker.jsm.streams.info(name);
      });
      const previous = known.get(name);
      known.set(name, info.created);
      if (previous !== undefined && previous !== info.created) {
        const n = await replay(context);
        replayed.inc({ stream: name }, n);
        logger.warn({ stream: name, replayed: n }, "stream was re-created; re-sent recent events");
      }
    }
    return { more: false };
  };

  return startWorkerLoop({ name: "stream-watch", sql, pollMs: intervalMs, logger, runOnce });
}
