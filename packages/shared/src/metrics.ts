import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

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
  return {
    registry,
    /** Factories for a service's own metrics, registered on this registry. */
    counter,
    gauge,
    histogram,
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
