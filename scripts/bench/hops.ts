import { connectPostgres } from "@codflow/shared";
import type { SystemDatabases } from "../../test/support/invariants.ts";
import { type Distribution, distribution } from "./stats.ts";

/**
 * Where a checkout's latency goes between services, from the rows the pipeline keeps anyway: an
 * event's outbox row (`created_at`, the start of the transaction that wrote it; `published_at`,
 * when its relay marked it published) and each consumer's inbox row (`processed_at`, the start
 * of the transaction that handled it). Relay: created → published (the rest of the writing
 * transaction, the relay's wake-up, claim, publish and ack). Delivery: published → the consumer's
 * transaction (negative when the consumer started before the relay's mark).
 */

export interface OutboxTimes {
  id: string;
  type: string;
  createdMs: number;
  publishedMs: number;
}

export interface InboxTimes {
  eventId: string;
  consumer: string;
  processedMs: number;
}

export interface Hops {
  relay: { type: string; latencyMs: Distribution }[];
  delivery: { type: string; consumer: string; latencyMs: Distribution }[];
}

/** The distributions, event types and consumers in name order. */
export function hopLatencies(outbox: readonly OutboxTimes[], inbox: readonly InboxTimes[]): Hops {
  const byId = new Map(outbox.map((row) => [row.id, row]));
  const relay = new Map<string, number[]>();
  for (const row of outbox) {
    const samples = relay.get(row.type) ?? [];
    samples.push(row.publishedMs - row.createdMs);
    relay.set(row.type, samples);
  }
  const delivery = new Map<string, { type: string; consumer: string; samples: number[] }>();
  for (const row of inbox) {
    const event = byId.get(row.eventId);
    if (!event) continue;
    const key = `${event.type}\u0000${row.consumer}`;
    const entry = delivery.get(key) ?? { type: event.type, consumer: row.consumer, samples: [] };
    entry.samples.push(row.processedMs - event.publishedMs);
    delivery.set(key, entry);
  }
  return {
    relay: [...relay]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([type, samples]) => ({ type, latencyMs: distribution(samples) })),
    delivery: [...delivery.values()]
      .sort((a, b) => a.type.localeCompare(b.type) || a.consumer.localeCompare(b.consumer))
      .map(({ type, consumer, samples }) => ({ type, consumer, latencyMs: distribution(samples) })),
  };
}

/** The outbox and inbox times of the four databases for events created in [from, to). */
export async function readHops(dbs: SystemDatabases, from: Date, to: Date): Promise<Hops> {
  const outbox: OutboxTimes[] = [];
  const inbox: InboxTimes[] = [];
  for (const url of Object.values(dbs)) {
    const sql = connectPostgres(url, { max: 1, onnotice: () => {} });
    try {
      const published = await sql<
        { id: string; type: string; created: number; published: number }[]
      >`
        select id, type, extract(epoch from created_at) * 1000 as created,
               extract(epoch from published_at) * 1000 as published
        from outbox
        where published_at is not null and created_at >= ${from} and created_at < ${to}`;
      for (const row of published)
        outbox.push({
          id: row.id,
          type: row.type,
          createdMs: Number(row.created),
          publishedMs: Number(row.published),
        });
      const processed = await sql<{ eventId: string; consumer: string; processed: number }[]>`
        select event_id as "eventId", consumer, extract(epoch from processed_at) * 1000 as processed
        from inbox where processed_at >= ${from}`;
      for (const row of processed)
        inbox.push({
          eventId: row.eventId,
          consumer: row.consumer,
          processedMs: Number(row.processed),
        });
    } finally {
      await sql.end();
    }
  }
  return hopLatencies(outbox, inbox);
}
