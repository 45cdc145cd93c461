import { randomUUID } from "node:crypto";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type ConsumerSpec,
  EARLY_RETRY_DELAYS_MS,
  RetryableError,
  type RunningConsumer,
  startConsumer,
  startOutboxRelay,
  streamName,
  subjectFor,
  TerminalError,
  TooEarlyError,
} from "../src/index.ts";
import {
  captureSpans,
  makeEnvelope,
  startTestPlatform,
  type TestPlatform,
  waitFor,
} from "../src/testing/index.ts";
import { requestedData } from "./helpers.ts";

let fx: TestPlatform;
const running: RunningConsumer[] = [];

beforeAll(async () => {
  fx = await startTestPlatform("shared");
  await fx.sql`create table effects (consumer text, event_id uuid, primary key (consumer, event_id))`;
  await fx.sql`create table applied (consumer text, event_id uuid)`;
});
beforeEach(async () => {
  await fx.sql`delete from outbox`;
  // every test's durable consumer starts from the stream's beginning: start from an empty one
  await fx.broker.jsm.streams.purge(streamName(fx.namespace, "checkout"));
  await fx.broker.jsm.streams.purge(streamName(fx.namespace, "deadletter"));
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
});
afterAll(() => fx.close());

const envelope = () => makeEnvelope("checkout.requested", requestedData());

/** Publishes with a fresh Nats-Msg-Id, so the broker delivers a redelivery as a new message. */
const publish = async (payload: unknown, headers?: Record<string, string>) => {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(headers ?? {})) h.set(k, v);
  await fx.broker.js.publish(
    subjectFor(fx.namespace, "checkout.requested"),
    typeof payload === "string" ? payload : JSON.stringify(payload),
    {
      msgID: randomUUID(),
      headers: h,
    },
  );
};

/** A handler whose effect is a row per event: `applied` counts every application, even rolled back ones are not. */
const recordingSpec = (
  name: string,
  fail: (eventId: string, attempt: number) => Error | undefined = () => undefined,
): ConsumerSpec<"checkout.requested"> => {
  const attempts = new Map<string, number>();
  return {
    name,
    type: "checkout.requested",
    async handle(event, tx) {
      const n = (attempts.get(event.id) ?? 0) + 1;
      attempts.set(event.id, n);
      await tx.sql`insert into applied (consumer, event_id) values (${name}, ${event.id})`;
      const error = fail(event.id, n);
      if (error) throw error;
      await tx.sql`insert into effects (consumer, event_id) values (${name}, ${event.id})`;
      await tx.emit({
        type: "checkout.failed",
        data: {
          checkoutId: event.data.checkoutId,
          customerId: "c",
          customerEmail: null,
          reason: "timed_out",
          detail: "",
        },
      });
    },
  };
};

const count = async (table: "effects" | "applied", consumer: string) =>
  (await fx.sql`select count(*)::int as n from ${fx.sql(table)} where consumer = ${consumer}`)[0]
    ?.n as number;

describe("idempotent consumer", () => {
  it("applies every event exactly once although 10% of attempts fail at random and some are redelivered", async () => {
    const name = "test.random-failures";
    const failing = new Set<string>();
    running.push(
      startConsumer(
        fx.consumerDeps,
        recordingSpec(name, (id, attempt) => {
          if (attempt === 1 && Math.random() < 0.1) failing.add(id);
          return failing.has(id) && attempt === 1 ? new RetryableError("transient") : undefined;
        }),
        { baseBackoffMs: 20, batchSize: 25 },
      ),
    );
    const events = Array.from({ length: 200 }, () => envelope());
    for (const e of events) await publish(e);
    for (const e of events.slice(0, 30)) await publish(e);
    await waitFor(async () => (await count("effects", name)) === 200, { what: "200 effects" });
    const [dup] = await fx.sql`select count(*)::int as n from inbox where consumer = ${name}`;
    expect(dup?.n).toBe(200);
    const outputs =
      await fx.sql`select count(*)::int as n from outbox where causation_id = any(${events.map((e) => e.id)}::uuid[])`;
    expect(outputs[0]?.n).toBe(200);
  });

  it("keeps the messages it holds from being delivered again while a batch outlasts the ack wait", async () => {
    const name = "test.slow-batch";
    const spec = recordingSpec(name);
    let first = true;
    running.push(
      startConsumer(
        fx.consumerDeps,
        {
          ...spec,
          async handle(event, tx) {
            if (first) {
              // the scenario, not a synchronisation: the first batch takes five ack waits
              first = false;
              await new Promise((resolve) => setTimeout(resolve, 1_500));
            }
            return spec.handle(event, tx);
          },
        },
        // one message a batch: the others wait, held, behind the slow one
        { ackWaitMs: 300, batchSize: 1, maxDeliver: 2 },
      ),
    );
    const events = Array.from({ length: 3 }, () => envelope());
    for (const e of events) await publish(e);
    await waitFor(async () => (await count("effects", name)) === 3, { what: "3 effects" });
    expect(await fx.counter("codflow_consumer_redeliveries_total", { consumer: name })).toBe(0);
    expect(await fx.counter("codflow_dead_letters_total", { consumer: name })).toBe(0);
    expect(await count("applied", name)).toBe(3);
  });

  it("re-sends the outputs a duplicate caused, past JetStream's de-dup window, instead of doing nothing", async () => {
    const name = "test.resend";
    running.push(startConsumer(fx.consumerDeps, recordingSpec(name)));
    const relay = startOutboxRelay({ ...fx.consumerDeps });
    const outputs = async () => {
      const info = await fx.broker.jsm.streams.info(streamName(fx.namespace, "checkout"), {
        subjects_filter: subjectFor(fx.namespace, "checkout.failed"),
      });
      return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
    };
    try {
      const before = await outputs();
      const e = envelope();
      await publish(e);
      await waitFor(async () => (await outputs()) === before + 1, { what: "output published" });
      // the relay marks the row published just after the broker took it: a duplicate inside that
      // moment finds the output still on its way (nothing to re-send), so wait for the mark
      await waitFor(
        async () =>
          (
            await fx.sql`select 1 from outbox where causation_id = ${e.id} and published_at is not null`
          ).length === 1,
        { what: "output marked published" },
      );
      await publish(e);
      await waitFor(async () => (await outputs()) === before + 2, {
        what: "output re-sent within the de-dup window",
      });
      const [row] = await fx.sql`select resends from outbox where causation_id = ${e.id}`;
      expect(row?.resends).toBe(1);
      expect(await count("effects", name)).toBe(1);
    } finally {
      await relay.stop();
    }
  });

  it("falls back to one message at a time when one message of a batch fails, losing none", async () => {
    const name = "test.batch-fallback";
    const poisoned = envelope();
    running.push(
      startConsumer(
        fx.consumerDeps,
        recordingSpec(name, (id, attempt) =>
          id === poisoned.id && attempt <= 2 ? new Error("deadlock detected") : undefined,
        ),
        { baseBackoffMs: 20, batchSize: 50 },
      ),
    );
    const events = [
      ...Array.from({ length: 20 }, () => envelope()),
      poisoned,
      ...Array.from({ length: 20 }, () => envelope()),
    ];
    for (const e of events) await publish(e);
    await waitFor(async () => (await count("effects", name)) === 41, { what: "41 effects" });
  });

  it("dead-letters poison (not JSON, unknown version, invalid data, always throws) with reason and original headers, and keeps serving", async () => {
    const name = "test.poison";
    const alwaysThrows = envelope();
    running.push(
      startConsumer(
        fx.consumerDeps,
        recordingSpec(name, (id) =>
          id === alwaysThrows.id ? new Error("handler bug") : undefined,
        ),
        { baseBackoffMs: 10, maxDeliver: 3 },
      ),
    );
    const good = envelope();
    await publish("{not json", {
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    });
    await publish({ ...envelope(), version: 99 });
    await publish({ ...envelope(), data: { checkoutId: "nope" } });
    await publish(alwaysThrows);
    await publish(good);
    await waitFor(async () => (await count("effects", name)) === 1, {
      what: "the good event applied",
    });
    const dlq = streamName(fx.namespace, "deadletter");
    await waitFor(async () => (await fx.broker.jsm.streams.info(dlq)).state.messages === 4, {
      what: "4 dead letters",
    });
    const reasons: string[] = [];
    for (let seq = 1; seq <= 4; seq++) {
      const m = await fx.broker.jsm.streams.getMessage(dlq, { seq });
      reasons.push(m?.header.get("Codflow-Dlq-Reason") ?? "");
      if (seq === 1)
        expect(m?.header.get("traceparent")).toContain("0af7651916cd43dd8448eb211c80319c");
      expect(m?.header.get("Codflow-Dlq-Consumer")).toBe(name);
    }
    expect(reasons.join("\n")).toMatch(/not JSON/);
    expect(reasons.join("\n")).toMatch(/unknown version 99/);
    expect(reasons.join("\n")).toMatch(/invalid checkout.requested data/);
    expect(reasons.join("\n")).toMatch(/handler bug/);
  });

  it("retries an event that came too early within milliseconds, without counting those retries toward maxDeliver", async () => {
    const name = "test.early";
    const early = envelope();
    let deliveries = 0;
    running.push(
      startConsumer(
        fx.consumerDeps,
        recordingSpec(name, (id, attempt) => {
          if (id !== early.id) return undefined;
          deliveries = attempt;
          return attempt <= EARLY_RETRY_DELAYS_MS.length
            ? new TooEarlyError("what it needs is not here yet")
            : undefined;
        }),
        // a plain retryable failure would be dead-lettered at once, or wait a minute
        { baseBackoffMs: 60_000, maxDeliver: 1 },
      ),
    );
    await publish(early);
    await waitFor(async () => (await count("effects", name)) === 1, {
      what: "the early event applied once what it needed came",
    });
    expect(deliveries).toBe(EARLY_RETRY_DELAYS_MS.length + 1);
    const dlq = streamName(fx.namespace, "deadletter");
    expect((await fx.broker.jsm.streams.info(dlq)).state.messages).toBe(0);
  });

  it("stops the subscription whose batch failed, so no message waits in it while the next one serves", async () => {
    // a dead letter whose compensation fails (its database down, say) fails the whole batch;
    // the consumer re-subscribes. Unpatched, the failed subscription went on pulling messages
    // into a queue nobody served, holding each in progress for ten ack waits
    const name = "test.failed-batch";
    const doomed = envelope();
    let compensations = 0;
    let doomedDeliveries = 0;
    const spec = recordingSpec(name);
    running.push(
      startConsumer(
        fx.consumerDeps,
        {
          ...spec,
          async handle(event, tx) {
            if (event.id !== doomed.id) return spec.handle(event, tx);
            doomedDeliveries += 1;
            throw new TerminalError("cannot be applied");
          },
          async onDeadLetter() {
            compensations += 1;
            if (compensations === 1) throw new Error("compensation failed");
          },
        },
        { ackWaitMs: 1000 },
      ),
    );
    await publish(doomed);
    await waitFor(
      async () => (await fx.counter("codflow_consumer_restarts_total", { consumer: name })) === 1,
      { what: "the failed batch" },
    );
    const events = Array.from({ length: 20 }, () => envelope());
    for (const e of events) await publish(e);
    await waitFor(async () => (await count("effects", name)) === 20, { what: "20 effects" });
    await waitFor(() => compensations === 2, { what: "the compensation done again" });
    // the doomed event came back once per failure; nothing else was delivered twice
    expect(await fx.counter("codflow_consumer_redeliveries_total", { consumer: name })).toBe(
      doomedDeliveries - 1,
    );
    expect(await count("applied", name)).toBe(20);
  });

  it("re-creates its consumer when it is deleted under it", async () => {
    const name = "test.recreate";
    running.push(startConsumer(fx.consumerDeps, recordingSpec(name)));
    await publish(envelope());
    await waitFor(async () => (await count("effects", name)) === 1, { what: "first effect" });
    await fx.broker.jsm.consumers.delete(streamName(fx.namespace, "checkout"), "test_recreate");
    await publish(envelope());
    await waitFor(async () => (await count("effects", name)) === 2, {
      timeoutMs: 30_000,
      what: "effect after re-creation",
    });
  });
});

/** `recordingSpec` with a set-based form: one insert for the whole batch, outputs per source. */
const setBasedSpec = (
  name: string,
  seen: string[][],
  failBatch: (ids: string[]) => boolean = () => false,
): ConsumerSpec<"checkout.requested"> => ({
  ...recordingSpec(name),
  async handleBatch(events, tx) {
    const ids = events.map((e) => e.id);
    seen.push(ids);
    await tx.sql`
      insert into effects (consumer, event_id) select ${name}, unnest(${ids}::uuid[])`;
    if (failBatch(ids)) throw new Error("deadlock detected");
    for (const event of events) {
      tx.emitFor(event, {
        type: "checkout.failed",
        data: {
          checkoutId: event.data.checkoutId,
          customerId: "c",
          customerEmail: null,
          reason: "timed_out",
          detail: "",
        },
      });
    }
  },
});

const traceparentOf = (traceId: string) => `00-${traceId}-${randomUUID().slice(0, 8)}aa11bb22-01`;

describe("set-based batches (handleBatch)", () => {
  it("applies a batch at once, each output with its source's correlation, causation and trace", async () => {
    const spans = captureSpans("shared-set-based");
    try {
      const name = "test.set-based";
      const seen: string[][] = [];
      const events = Array.from({ length: 40 }, () => envelope());
      const traceIds = new Map(events.map((e) => [e.id, randomUUID().replaceAll("-", "")]));
      for (const e of events) {
        await publish(e, { traceparent: traceparentOf(traceIds.get(e.id) ?? "") });
      }
      running.push(startConsumer(fx.consumerDeps, setBasedSpec(name, seen), { batchSize: 50 }));

      await waitFor(async () => (await count("effects", name)) === 40, { what: "40 effects" });
      expect(seen.some((batch) => batch.length > 1)).toBe(true);
      const outputs = await fx.sql<
        { causation_id: string; correlation_id: string; traceparent: string | null }[]
      >`select causation_id, correlation_id, headers->>'traceparent' as traceparent
        from outbox where causation_id = any(${events.map((e) => e.id)}::uuid[])`;
      expect(outputs).toHaveLength(40);
      for (const out of outputs) {
        const source = events.find((e) => e.id === out.causation_id);
        expect(out.correlation_id).toBe(source?.correlationId);
        expect(out.traceparent?.split("-")[1]).toBe(traceIds.get(out.causation_id));
      }
      const processed = spans
        .finished()
        .filter((s) => s.name === "process checkout.requested")
        .map((s) => s.spanContext().traceId);
      expect(new Set(processed)).toEqual(new Set(traceIds.values()));
    } finally {
      await spans.stop();
    }
  });

  it("lets a batch wait up to lingerMs to fill, and sends a full one at once", async () => {
    const name = "test.set-based-linger";
    const seen: string[][] = [];
    running.push(
      startConsumer(fx.consumerDeps, setBasedSpec(name, seen), { batchSize: 5, lingerMs: 5_000 }),
    );
    const started = Date.now();
    for (const e of Array.from({ length: 3 }, () => envelope())) await publish(e);
    await waitFor(async () => (await count("effects", name)) === 3, {
      timeoutMs: 15_000,
      what: "3 effects",
    });
    // one transaction for the three, made once the first had waited its linger
    expect(seen.map((batch) => batch.length)).toEqual([3]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_900);

    const full = Date.now();
    for (const e of Array.from({ length: 5 }, () => envelope())) await publish(e);
    await waitFor(async () => (await count("effects", name)) === 8, { what: "8 effects" });
    expect(seen.map((batch) => batch.length)).toEqual([3, 5]);
    expect(Date.now() - full).toBeLessThan(4_000);
  });

  it("treats a repeated event, in the same batch or a later one, as a duplicate", async () => {
    const name = "test.set-based-duplicates";
    const seen: string[][] = [];
    const events = Array.from({ length: 20 }, () => envelope());
    for (const e of events) await publish(e);
    for (const e of events.slice(0, 10)) await publish(e);
    running.push(startConsumer(fx.consumerDeps, setBasedSpec(name, seen), { batchSize: 50 }));

    await waitFor(
      async () => {
        const [row] = await fx.sql`
          select count(*)::int as n from inbox where consumer = ${name}`;
        const info = await fx.broker.jsm.consumers.info(
          streamName(fx.namespace, "checkout"),
          name.replace(/[^a-zA-Z0-9_-]/g, "_"),
        );
        return row?.n === 20 && info.num_ack_pending === 0 && info.num_pending === 0;
      },
      { what: "all 30 deliveries settled" },
    );
    expect(await count("effects", name)).toBe(20);
    const handled = seen.flat();
    expect(new Set(handled).size).toBe(handled.length);
  });

  it("falls back to one event at a time when the batch handler throws, applying each once", async () => {
    const name = "test.set-based-fallback";
    const seen: string[][] = [];
    const poisoned = envelope();
    const events = [
      ...Array.from({ length: 20 }, () => envelope()),
      poisoned,
      ...Array.from({ length: 20 }, () => envelope()),
    ];
    for (const e of events) await publish(e);
    running.push(
      startConsumer(
        fx.consumerDeps,
        setBasedSpec(name, seen, (ids) => ids.includes(poisoned.id)),
        { batchSize: 50 },
      ),
    );

    await waitFor(async () => (await count("effects", name)) === 41, { what: "41 effects" });
    expect(seen.some((batch) => batch.includes(poisoned.id))).toBe(true);
    const [outputs] = await fx.sql`
      select count(*)::int as n from outbox
      where causation_id = any(${events.map((e) => e.id)}::uuid[])`;
    expect(outputs?.n).toBe(41);
  });
});
