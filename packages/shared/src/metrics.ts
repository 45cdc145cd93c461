import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Sql } from "./db.ts";
import type { Logger } from "./log.ts";
import { type Broker, streamName } from "./messaging/nats.ts";

/** A durable consumer whose lag `/metrics` reports; `startConsumer` registers it while running. */
export interface ObservedConsumer {
  name: string;
  stream: string;
  durable: string;
  broker: Broker;
}

/** What the platform gauges read at scrape time: this service's database and its broker. */
export interface PlatformSources {
  sql: Sql;
  broker: Broker;
  logger: Logger;
}

/** Shares one read between the gauges of a group scraped together (one query per scrape). */
function shared<T>(read: () => Promise<T>): () => Promise<T> {
  let inflight: Promise<T> | undefined;
  return () => {
    inflight ??= read().finally(() => {
      inflight = undefined;
    });
    return inflight;
  };
}

/**
 * One registry per process holding the shared messaging metrics; services register their own
 * metrics on `registry` too. Names follow Prometheus conventions (`_total`, base units).
 */
export function createMetrics(service: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Counter<L>({ name, help, labelNames, registers: [registry] });
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Gauge<L>({ name, help, labelNames, registers: [registry] });
  const histogram = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    buckets: number[],
  ) => new Histogram<L>({ name, help, labelNames, buckets, registers: [registry] });

  /**
   * Unlabelled gauges computed at scrape time by ONE `read()` shared by the group. `read` may
   * return undefined (nothing to observe yet); an error keeps the last values and is logged,
   * never thrown into the scrape. Example:
   * `scrapeGauges({ n: ["codflow_x", "help"] }, async () => ({ n: 1 }), () => logger)`.
   */
  const scrapeGauges = <K extends string>(
    defs: Record<K, readonly [name: string, help: string]>,
    read: () => Promise<Record<K, number> | undefined>,
    logger: () => Logger | undefined,
  ) => {
    const refresh = shared(async () => {
      try {
        return await read();
      } catch (err) {
        logger()?.warn(
          { err },
          "metrics: a scrape-time gauge could not be read; kept its last value",
        );
        return undefined;
      }
    });
    const gauges = {} as Record<K, Gauge>;
    for (const key of Object.keys(defs) as K[]) {
      const [name, help] = defs[key];
      gauges[key] = new Gauge({
        name,
        help,
        registers: [registry],
        async collect() {
          const values = await refresh();
          if (values) this.set(values[key]);
        },
      });
    }
    return gauges;
  };

  let sources: PlatformSources | undefined;
  const outboxGauges = scrapeGauges(
    {
      pending: ["codflow_outbox_pending", "Outbox rows not yet published."],
      oldestAge: [
        "codflow_outbox_oldest_pending_age_seconds",
        "Age of the oldest unpublished outbox row (0 when none).",
      ],
    },
    async () => {
      if (!sources) return undefined;
      const [row] = await sources.sql<{ pending: number; oldestAge: number }[]>`
        select count(*)::int as pending,
               coalesce(extract(epoch from now() - min(created_at)), 0)::float8 as "oldestAge"
        from outbox where published_at is null`;
      return row && { pending: Number(row.pending), oldestAge: Number(row.oldestAge) };
    },
    () => sources?.logger,
  );
  const deadLetterGauges = scrapeGauges(
    {
      messages: [
        "codflow_dead_letter_messages",
        "Messages in the namespace's dead-letter stream (every service reports it; use max()).",
      ],
    },
    async () => {
      if (!sources) return undefined;
      const { broker } = sources;
      const info = await broker.jsm.streams.info(streamName(broker.namespace, "deadletter"));
      return { messages: info.state.messages };
    },
    () => sources?.logger,
  );

  const consumers = new Map<string, ObservedConsumer>();
  const readLag = shared(async () => {
    const results = await Promise.all(
      [...consumers.values()].map(async (c) => {
        try {
          const info = await c.broker.jsm.consumers.info(c.stream, c.durable);
          return { name: c.name, pending: info.num_pending, ackPending: info.num_ack_pending };
        } catch (err) {
          sources?.logger.warn(
            { err, consumer: c.name },
            "metrics: consumer info could not be read; kept its last value",
          );
          return undefined;
        }
      }),
    );
    return results.filter((r) => r !== undefined);
  });
  const lagGauge = (name: string, help: string, pick: "pending" | "ackPending") =>
    new Gauge<"consumer">({
      name,
      help,
      labelNames: ["consumer"],
      registers: [registry],
      async collect() {
        for (const lag of await readLag()) this.set({ consumer: lag.name }, lag[pick]);
      },
    });
  lagGauge(
    "codflow_consumer_pending_messages",
    "Messages in the stream not yet delivered to the durable consumer (JetStream num_pending).",
    "pending",
  );
  lagGauge(
    "codflow_consumer_ack_pending_messages",
    "Messages delivered to the durable consumer and not yet acknowledged (num_ack_pending).",
    "ackPending",
  );

  return {
    registry,
    /** Factories for a service's own metrics, registered on this registry. */
    counter,
    gauge,
    histogram,
    scrapeGauges,
    /** Gives the outbox and dead-letter gauges their database and broker (startPlatform does). */
    observePlatform(platform: PlatformSources) {
      sources = platform;
    },
    /** Reports a running consumer's lag; the returned function stops reporting it. */
    observeConsumer(consumer: ObservedConsumer) {
      consumers.set(consumer.name, consumer);
      return () => {
        if (consumers.get(consumer.name) === consumer) consumers.delete(consumer.name);
      };
    },
    outboxGauges,
    deadLetterGauges,
    outboxPublished: counter(
      "codflow_outbox_published_total",
      "Outbox rows published, by result.",
      ["result"],
    ),
    consumerResults: counter(
      "codflow_consumer_messages_total",
      "Messages handled by a consumer, by result (ok, duplicate, retry, dead_lettered).",
      ["consumer", "result"],
    ),
    consumerRedeliveries: counter(
      "codflow_consumer_redeliveries_total",
      "Messages delivered more than once.",
      ["consumer"],
    ),
    consumerRestarts: counter(
      "codflow_consumer_restarts_total",
      "Times a consumer was re-created after its iterator ended or it vanished.",
      ["consumer"],
    ),
    deadLetters: counter(
      "codflow_dead_letters_total",
      "Messages moved to the dead-letter stream.",
      ["consumer"],
    ),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * A service's own metrics, built once per registry however often they are asked for (the app,
 * the consumers and the workers share one set; prom-client refuses a name registered twice).
 * Example: `export const createOrdersMetrics = metricsOnce((m) => ({ created: m.counter(...) }))`.
 */
export function metricsOnce<T>(build: (metrics: Metrics) => T): (metrics: Metrics) => T {
  const byRegistry = new WeakMap<Registry, T>();
  return (metrics) => {
    let found = byRegistry.get(metrics.registry);
    if (found === undefined) {
      found = build(metrics);
      byRegistry.set(metrics.registry, found);
    }
    return found;
  };
}
