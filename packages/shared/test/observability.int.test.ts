import { SpanKind as ApiSpanKind, context, propagation, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  appendToOutbox,
  createServiceApp,
  deadLetterSubject,
  inSpan,
  inTransaction,
  type RunningConsumer,
  startConsumer,
  startOutboxRelay,
  startTelemetry,
} from "../src/index.ts";
import {
  metricValue,
  scrapeMetrics,
  startTestPlatform,
  type TestPlatform,
  waitFor,
} from "../src/testing/index.ts";
import { requestedData } from "./helpers.ts";

const exporter = new InMemorySpanExporter();
let telemetry: ReturnType<typeof startTelemetry>;
let fx: TestPlatform;
let app: ReturnType<typeof createServiceApp>;

beforeAll(async () => {
  telemetry = startTelemetry({
    service: "shared-test",
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  fx = await startTestPlatform("shared");
  app = createServiceApp({
    service: "shared-test",
    logger: fx.logger,
    metrics: fx.metrics,
    readiness: [],
  });
  app.post("/v1/things/:id", async (c) => {
    const id = c.req.param("id") as ReturnType<typeof crypto.randomUUID>;
    await inTransaction(fx.sql, "test.append", (tx) =>
      appendToOutbox(tx, fx.namespace, [
        { type: "checkout.requested", data: requestedData(id), correlationId: id },
      ]),
    );
    return c.json({ id }, 202);
  });
});
afterAll(async () => {
  await fx.close();
  await telemetry.shutdown();
});

const metric = async (name: string, labels: Record<string, string> = {}) =>
  metricValue(await scrapeMetrics(app), name, labels);

describe("scrape-time gauges", () => {
  it("reports the unpublished outbox rows and the age of the oldest, then 0 once relayed", async () => {
    await fx.sql`update outbox set published_at = now() where published_at is null`;
    await fx.sql.begin((tx) =>
      appendToOutbox(tx, fx.namespace, [
        { type: "checkout.requested", data: requestedData(), correlationId: "g1" },
        { type: "checkout.requested", data: requestedData(), correlationId: "g2" },
      ]),
    );
    await fx.sql`update outbox set created_at = now() - interval '90 seconds' where correlation_id = 'g1'`;
    expect(await metric("codflow_outbox_pending")).toBe(2);
    expect(await metric("codflow_outbox_oldest_pending_age_seconds")).toBeGreaterThanOrEqual(90);

    const relay = fx.track(startOutboxRelay(fx.consumerDeps));
    await waitFor(async () => (await metric("codflow_outbox_pending")) === 0, {
      what: "outbox drained",
    });
    expect(await metric("codflow_outbox_oldest_pending_age_seconds")).toBe(0);
    await relay.stop();
  });

  it("reports the messages in the dead-letter stream", async () => {
    expect(await metric("codflow_dead_letter_messages")).toBe(0);
    await fx.broker.js.publish(deadLetterSubject(fx.namespace, "some-consumer"), "{}");
    expect(await metric("codflow_dead_letter_messages")).toBe(1);
  });

  it("reports a running consumer's un-acked and undelivered messages (JetStream lag)", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const consumer = fx.track(
      startConsumer(fx.consumerDeps, {
        name: "shared.lag-probe",
        type: "inventory.rejected",
        handle: () => gate,
      }),
    );
    const labels = { consumer: "shared.lag-probe" };
    for (let i = 0; i < 3; i++) {
      await fx.publish("inventory.rejected", {
        checkoutId: crypto.randomUUID(),
        reason: "out_of_stock",
        lines: [
          {
            variantId: crypto.randomUUID(),
            reason: "out_of_stock",
            requestedQty: 2,
            availableQty: 1,
          },
        ],
      });
    }
    await waitFor(
      async () => (await metric("codflow_consumer_ack_pending_messages", labels)) === 3,
      { what: "three delivered, none acked" },
    );
    expect(await metric("codflow_consumer_pending_messages", labels)).toBe(0);
    expect(await metric("codflow_dead_letter_messages")).toBe(1);
    release();
    await waitFor(
      async () => (await metric("codflow_consumer_ack_pending_messages", labels)) === 0,
      { what: "all acked" },
    );
    await consumer.stop();
  });
});

describe("tracing", () => {
  it("keeps one trace from the caller's request through the outbox, the relay and the consumer", async () => {
    exporter.reset();
    const checkoutId = crypto.randomUUID();
    const handled: string[] = [];
    const consumer: RunningConsumer = fx.track(
      startConsumer(
        fx.consumerDeps,
        {
          name: "shared.trace-probe",
          type: "checkout.requested",
          handle: async (event) => {
            handled.push(event.correlationId);
          },
        },
        // one message per transaction: the span of a batch's transaction has no single trace
        { batchSize: 1 },
      ),
    );
    const relay = fx.track(startOutboxRelay(fx.consumerDeps));

    // given a storefront span, when its request appends an event
    const traceId = await inSpan("storefront", { kind: ApiSpanKind.CLIENT }, async (span) => {
      const headers: Record<string, string> = {};
      propagation.inject(context.active(), headers);
      const res = await app.request(`/v1/things/${checkoutId}`, { method: "POST", headers });
      expect(res.status).toBe(202);
      return span.spanContext().traceId;
    });
    // then the relayed and consumed event's spans are in the same trace
    await waitFor(() => handled.includes(checkoutId), { what: "event consumed" });
    await waitFor(
      () =>
        exporter
          .getFinishedSpans()
          .some(
            (s) => s.name === "process checkout.requested" && s.spanContext().traceId === traceId,
          ),
      { what: "consumer span ended" },
    );
    const spans = exporter.getFinishedSpans();
    const inTrace = spans.filter((s) => s.spanContext().traceId === traceId);
    const names = inTrace.map((s) => s.name);
    expect(names).toEqual(
      expect.arrayContaining([
        "storefront",
        "POST /v1/things/:id",
        "db.transaction test.append",
        "publish checkout.requested",
        "process checkout.requested",
        "db.transaction consume shared.trace-probe",
      ]),
    );
    const byName = (name: string) => inTrace.find((s) => s.name === name);
    const parentOf = (name: string) => byName(name)?.parentSpanContext?.spanId;
    expect(parentOf("POST /v1/things/:id")).toBe(byName("storefront")?.spanContext().spanId);
    expect(parentOf("db.transaction test.append")).toBe(
      byName("POST /v1/things/:id")?.spanContext().spanId,
    );
    expect(parentOf("publish checkout.requested")).toBe(
      byName("db.transaction test.append")?.spanContext().spanId,
    );
    expect(parentOf("process checkout.requested")).toBe(
      byName("publish checkout.requested")?.spanContext().spanId,
    );
    expect(parentOf("db.transaction consume shared.trace-probe")).toBe(
      byName("process checkout.requested")?.spanContext().spanId,
    );
    expect(byName("db.transaction test.append")?.attributes).toMatchObject({
      "db.system": "postgresql",
      "db.operation.name": "test.append",
    });
    expect(byName("POST /v1/things/:id")?.attributes).toMatchObject({
      "http.route": "/v1/things/:id",
      "http.response.status_code": 202,
    });
    expect(trace.getActiveSpan()).toBeUndefined();
    await consumer.stop();
    await relay.stop();
  });
});
