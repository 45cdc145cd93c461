import { AckPolicy, DeliverPolicy, type JsMsg } from "@nats-io/jetstream";
import { nanos, headers as natsHeaders } from "@nats-io/transport-node";
import { type Context as OtelContext, type Span, SpanStatusCode, trace } from "@opentelemetry/api";
import { runWithContext } from "../context.ts";
import type { Sql, TxSql } from "../db.ts";
import { type EventOf, type EventType, envelopeSchema, eventCatalog } from "../events/index.ts";
import { type Logger, redactPii } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import {
  extractTraceContext,
  injectTraceContext,
  inSpan,
  inTransaction,
  SpanKind,
  tracer,
} from "../telemetry.ts";
import { isInfrastructureError, isTerminal, TerminalError, TooEarlyError } from "./errors.ts";
import {
  type Broker,
  contextStream,
  deadLetterSubject,
  ensureStreams,
  isNotFound,
  subjectFor,
} from "./nats.ts";
import { appendToOutbox, type NewEvent, type OutboxEntry, resendOutputsOf } from "./outbox.ts";

/** What a handler gets: the transaction its effects and its inbox row commit in. */
export interface MessageTx {
  sql: TxSql;
  /** Appends events caused by the message being handled (causation + correlation filled in). */
  emit(events: NewEvent | NewEvent[]): Promise<void>;
  /** Runs `fn` once the effects committed (metrics, wake-ups); never if they rolled back. */
  afterCommit(fn: () => void): void;
}

/**
 * What a batch handler gets: one transaction for the whole batch. Outputs are emitted per source
 * event (its correlation, causation and trace context) and appended in one statement at the end.
 */
export interface BatchTx<T extends EventType> {
  sql: TxSql;
  /** Appends events caused by `source`, as `MessageTx.emit` would while handling it alone. */
  emitFor(source: EventOf<T>, events: NewEvent | NewEvent[]): void;
  /**
   * Leaves `source`, which came before what it needs, out of the batch as `handle` would by
   * throwing a TooEarlyError: it must have had no effect here; its inbox row goes and it is
   * retried as a TooEarlyError is (retryDelay), while the rest of the batch commits. Throwing instead rolls the
   * whole batch back and runs every event alone, one transaction each.
   */
  retryLater(source: EventOf<T>, reason: string): void;
  /** Runs `fn` once the effects committed (metrics, wake-ups); never if they rolled back. */
  afterCommit(fn: () => void): void;
}

export interface ConsumerSpec<T extends EventType> {
  /** Durable consumer name and inbox key, e.g. `inventory.reserve-stock`. Never rename. */
  name: string;
  type: T;
  handle(event: EventOf<T>, tx: MessageTx): Promise<void>;
  /**
   * Optional set-based form of `handle` for throughput: applies `events` (new to the inbox, in
   * delivery order, at least two) with a few multi-row statements instead of one round trip set
   * per event. Its effects must equal calling `handle` on each event in order. If it throws, the
   * batch rolls back and every event runs alone through `handle`.
   */
  handleBatch?(events: EventOf<T>[], tx: BatchTx<T>): Promise<void>;
  /** The compensation when the event is dead-lettered; runs once, in its own transaction. */
  onDeadLetter?(event: EventOf<T>, tx: MessageTx, reason: string): Promise<void>;
}

export interface ConsumerDeps {
  sql: Sql;
  broker: Broker;
  logger: Logger;
  metrics: Metrics;
  /** The deployment's settings (CONSUMER_*); a consumer's own options override them. */
  defaults?: ConsumerOptions;
}

export interface ConsumerOptions {
  batchSize?: number;
  /** Deliveries before a retryable failure is dead-lettered. */
  maxDeliver?: number;
  ackWaitMs?: number;
  /** NAK delay for delivery n is min(maxBackoffMs, baseBackoffMs * 2^(n-1)) (see retryDelay). */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * How long a message may wait, from its arrival, for others to share its batch (0: a batch
   * goes as soon as the previous one ends). Below saturation it turns many one-message
   * transactions into one; under load messages have waited already and go at once. A few
   * milliseconds on a checkout's path (`CONSUMER_LINGER_MS`), more where nobody waits (emails).
   */
  lingerMs?: number;
}

export interface RunningConsumer {
  stop(): Promise<void>;
}

/**
 * The first retries of an event that came too early (TooEarlyError): what it waits for is
 * usually milliseconds behind it (orders' two consumers race: at 300/s 1 % of the reservations
 * beat their checkout's contacts, and each waited out the 500 ms back-off, which made the slowest
 * 1 % of checkouts). They come this soon and do not count toward `maxDeliver`, so an event that
 * is really waiting keeps the whole back-off.
 */
export const EARLY_RETRY_DELAYS_MS = [25, 100] as const;

/**
 * The NAK delay after the `deliveryCount`th delivery failed with `error`, and how many of the
 * deliveries count toward `maxDeliver`: delivery n waits min(max, base * 2^(n-1)), n counted
 * after an early event's quick retries.
 */
export function retryDelay(
  error: unknown,
  deliveryCount: number,
  { baseBackoffMs, maxBackoffMs }: { baseBackoffMs: number; maxBackoffMs: number },
): { delayMs: number; counted: number } {
  const quick = error instanceof TooEarlyError ? EARLY_RETRY_DELAYS_MS.length : 0;
  if (deliveryCount <= quick) {
    return { delayMs: EARLY_RETRY_DELAYS_MS[deliveryCount - 1] ?? baseBackoffMs, counted: 0 };
  }
  const counted = deliveryCount - quick;
  return { delayMs: Math.min(maxBackoffMs, baseBackoffMs * 2 ** (counted - 1)), counted };
}

type Decoded<T extends EventType> = { msg: JsMsg; event: EventOf<T> };
type Outcome =
  | { kind: "ok"; afterCommit: (() => void)[] }
  | { kind: "duplicate" }
  | { kind: "error"; error: unknown };

/**
 * A durable pull consumer with explicit acks, batched: a batch's effects and inbox rows commit
 * in one transaction; if any message fails, the batch is rolled back and each message runs in
 * its own transaction, so one bad message neither drops nor stalls the rest. A duplicate
 * (already in the inbox) re-sends the outputs it caused. Retryable failures NAK with back-off;
 * terminal ones, and retryable ones past `maxDeliver`, go to the dead-letter stream.
 * The consumer and its stream are re-created whenever they vanish.
 */
export function startConsumer<T extends EventType>(
  deps: ConsumerDeps,
  spec: ConsumerSpec<T>,
  options: ConsumerOptions = {},
): RunningConsumer {
  const {
    batchSize = 100,
    maxDeliver = 8,
    ackWaitMs = 30_000,
    baseBackoffMs = 500,
    maxBackoffMs = 30_000,
    lingerMs = 0,
  } = { ...deps.defaults, ...options };
  const { sql, broker, logger, metrics } = deps;
  const log = logger.child({ consumer: spec.name });
  const stream = contextStream(broker.namespace, spec.type);
  const durable = spec.name.replace(/[^a-zA-Z0-9_-]/g, "_");
  const labels = { consumer: spec.name };
  let stopped = false;
  let current: { stop(): void } | undefined;

  /*
   * Messages received and not yet settled, with when they arrived. While a batch takes long (the
   * database restarting, a slow statement), the rest wait in this process past their ack wait;
   * JetStream would then deliver them again, into this same queue, and each copy would count as
   * a delivery: a message that only had to wait could reach `maxDeliver` and be dead-lettered.
   * So every third of the ack wait each held message is marked in progress (`working()`), up to
   * `maxHoldMs` after its arrival: a process stuck for longer lets the others have its messages.
   */
  const held = new Map<JsMsg, number>();
  const maxHoldMs = ackWaitMs * 10;
  const release = (msg: JsMsg) => held.delete(msg);
  const heartbeat = setInterval(
    () => {
      const now = Date.now();
      for (const [msg, since] of held) {
        if (now - since > maxHoldMs) held.delete(msg);
        else {
          try {
            msg.working();
          } catch {
            // a closed connection: the message goes to the next subscription or replica anyway
            held.delete(msg);
          }
        }
      }
    },
    Math.max(50, ackWaitMs / 3),
  );
  heartbeat.unref();

  const ensureConsumer = async () => {
    const config = {
      durable_name: durable,
      filter_subject: subjectFor(broker.namespace, spec.type),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(ackWaitMs),
      max_deliver: -1,
      max_ack_pending: batchSize * 10,
    };
    try {
      await broker.jsm.consumers.add(stream, config);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await ensureStreams(broker);
      await broker.jsm.consumers.add(stream, config);
    }
  };

  const decode = (msg: JsMsg): EventOf<T> => {
    let raw: unknown;
    try {
      raw = msg.json();
    } catch {
      throw new TerminalError("payload is not JSON");
    }
    const envelope = envelopeSchema.safeParse(raw);
    if (!envelope.success)
      throw new TerminalError(`invalid envelope: ${summarise(envelope.error)}`);
    const catalog = eventCatalog[spec.type];
    if (envelope.data.type !== spec.type) {
      throw new TerminalError(`unexpected event type ${envelope.data.type}`);
    }
    if (envelope.data.version !== catalog.version) {
      throw new TerminalError(`unknown version ${envelope.data.version} of ${spec.type}`);
    }
    const data = catalog.schema.safeParse(envelope.data.data);
    if (!data.success)
      throw new TerminalError(`invalid ${spec.type} data: ${summarise(data.error)}`);
    return { ...envelope.data, type: spec.type, data: data.data } as EventOf<T>;
  };

  const messageTx = (tx: TxSql, afterCommit: (() => void)[] = []): MessageTx => ({
    sql: tx,
    emit: async (events) => {
      await appendToOutbox(tx, broker.namespace, Array.isArray(events) ? events : [events]);
    },
    afterCommit: (fn) => {
      afterCommit.push(fn);
    },
  });

  /** The OpenTelemetry messaging attributes of a message's `process` span. */
  const processAttributes = (msg: JsMsg, event: EventOf<T>) => ({
    "messaging.system": "nats",
    "messaging.operation.type": "process",
    "messaging.destination.name": msg.subject,
    "messaging.consumer.group.name": spec.name,
    "messaging.message.id": event.id,
    "messaging.nats.delivery_count": msg.info.deliveryCount,
  });

  /** Runs `fn` as the processing of one message: in its trace, with its correlation id. */
  const processing = <R>({ msg, event }: Decoded<T>, fn: () => Promise<R>): Promise<R> =>
    runWithContext({ correlationId: event.correlationId, causationId: event.id }, () =>
      inSpan(
        `process ${spec.type}`,
        {
          kind: SpanKind.CONSUMER,
          parent: extractTraceContext(headerRecord(msg)),
          attributes: processAttributes(msg, event),
        },
        fn,
      ),
    );

  /** Claims the inbox row, then applies the handler; both inside the caller's transaction. */
  const apply = async (tx: TxSql, { event }: Decoded<T>): Promise<Outcome> => {
    const claimed = await tx`
      insert into inbox (consumer, event_id) values (${spec.name}, ${event.id})
      on conflict do nothing returning 1`;
    if (claimed.length === 0) {
      await resendOutputsOf(tx, [event.id]);
      return { kind: "duplicate" } as const;
    }
    const afterCommit: (() => void)[] = [];
    await spec.handle(event, messageTx(tx, afterCommit));
    return { kind: "ok", afterCommit } as const;
  };

  const deadLetter = async ({ msg, event }: { msg: JsMsg; event?: EventOf<T> }, reason: string) => {
    const h = natsHeaders();
    for (const [key, value] of Object.entries(headerRecord(msg))) h.set(key, value);
    h.set("Codflow-Dlq-Reason", reason.replace(/[\r\n]+/g, " ").slice(0, 1000));
    h.set("Codflow-Dlq-Consumer", spec.name);
    h.set("Codflow-Dlq-Original-Subject", msg.subject);
    h.set("Codflow-Dlq-Deliveries", String(msg.info.deliveryCount));
    await broker.js.publish(deadLetterSubject(broker.namespace, durable), msg.data, {
      headers: h,
      msgID: `${durable}:${msg.info.streamSequence}`,
    });
    if (event && spec.onDeadLetter) {
      const compensate = spec.onDeadLetter;
      const afterCommit: (() => void)[] = [];
      await inTransaction(sql, `dead-letter ${spec.name}`, async (tx) => {
        const claimed = await tx`
          insert into inbox (consumer, event_id) values (${`${spec.name}:dead-letter`}, ${event.id})
          on conflict do nothing returning 1`;
        if (claimed.length > 0) {
          await runWithContext({ correlationId: event.correlationId, causationId: event.id }, () =>
            compensate(event, messageTx(tx, afterCommit), reason),
          );
        }
      });
      for (const fn of afterCommit) fn();
    }
    msg.ack();
    release(msg);
    metrics.consumerResults.inc({ ...labels, result: "dead_lettered" });
    metrics.deadLetters.inc(labels);
    log.error(
      { eventId: event?.id, reason: redactPii(reason), deliveries: msg.info.deliveryCount },
      "message dead-lettered",
    );
  };

  const acknowledge = (item: Decoded<T>, outcome: Exclude<Outcome, { kind: "error" }>) => {
    if (outcome.kind === "ok") for (const fn of outcome.afterCommit) fn();
    item.msg.ack();
    release(item.msg);
    metrics.consumerResults.inc({ ...labels, result: outcome.kind });
  };

  const settle = async (item: Decoded<T>, outcome: Outcome) => {
    if (outcome.kind !== "error") return acknowledge(item, outcome);
    const reason = String((outcome.error as Error)?.message ?? outcome.error);
    const { delayMs: delay, counted } = retryDelay(outcome.error, item.msg.info.deliveryCount, {
      baseBackoffMs,
      maxBackoffMs,
    });
    const exhausted = counted >= maxDeliver && !isInfrastructureError(outcome.error);
    if (isTerminal(outcome.error) || exhausted) {
      await deadLetter(item, reason);
      return;
    }
    item.msg.nak(delay);
    release(item.msg);
    metrics.consumerResults.inc({ ...labels, result: "retry" });
    const level = outcome.error instanceof TooEarlyError ? "info" : "warn";
    log[level](
      { eventId: item.event.id, reason: redactPii(reason), delayMs: delay },
      "message will be retried",
    );
  };

  const processOneByOne = async (items: Decoded<T>[]) => {
    for (const item of items) {
      const outcome = await processing(item, () =>
        inTransaction(sql, `consume ${spec.name}`, (tx) => apply(tx, item)),
      ).catch((error: unknown): Outcome => ({ kind: "error", error }));
      await settle(item, outcome);
    }
  };

  const processBatch = async (msgs: JsMsg[]) => {
    const decoded: Decoded<T>[] = [];
    for (const msg of msgs) {
      if (msg.redelivered) metrics.consumerRedeliveries.inc(labels);
      try {
        decoded.push({ msg, event: decode(msg) });
      } catch (err) {
        await deadLetter({ msg }, (err as Error).message);
      }
    }
    if (decoded.length === 0) return;
    if (decoded.length === 1) return processOneByOne(decoded);
    const outcomes = await (spec.handleBatch
      ? applySetBased(decoded, spec.handleBatch)
      : inTransaction(sql, `consume batch ${spec.name}`, async (tx) => {
          const results: Outcome[] = [];
          for (const item of decoded) results.push(await processing(item, () => apply(tx, item)));
          return results;
        })
    ).catch((err: unknown) => {
      // each message then gets a transaction of its own: visible, since a batch that keeps
      // failing this way costs a whole batch of transactions each time
      log.info(
        { messages: decoded.length, reason: redactPii(String((err as Error)?.message ?? err)) },
        "batch rolled back; handling its messages one by one",
      );
      return undefined;
    });
    if (!outcomes) return processOneByOne(decoded);
    // a batch's acks go out in one socket write: nats.js flushes once per microtask turn, so
    // they are sent without an await between them; failures are settled after, one by one
    const failures: [Decoded<T>, Outcome][] = [];
    for (const [i, item] of decoded.entries()) {
      const outcome = outcomes[i] as Outcome;
      if (outcome.kind === "error") failures.push([item, outcome]);
      else acknowledge(item, outcome);
    }
    for (const [item, outcome] of failures) await settle(item, outcome);
  };

  /**
   * The batch in one transaction and a few statements: one inbox insert claims every event
   * (a repeat of an id, even within the batch, is a duplicate that re-sends its outputs), the
   * handler applies the new ones at once, and their outputs go out in one outbox insert — each
   * with its source's correlation, causation and trace (a `process` span per message, parented
   * on the message's `traceparent`, so a checkout keeps one trace).
   */
  const applySetBased = async (
    items: Decoded<T>[],
    handleBatch: NonNullable<ConsumerSpec<T>["handleBatch"]>,
  ): Promise<Outcome[]> => {
    const spans = new Map<string, { span: Span; ctx: OtelContext }>();
    for (const { msg, event } of items) {
      if (spans.has(event.id)) continue;
      const parent = extractTraceContext(headerRecord(msg));
      const span = tracer().startSpan(
        `process ${spec.type}`,
        {
          kind: SpanKind.CONSUMER,
          attributes: {
            ...processAttributes(msg, event),
            "messaging.batch.message_count": items.length,
          },
        },
        parent,
      );
      spans.set(event.id, { span, ctx: trace.setSpan(parent, span) });
    }
    const afterCommit: (() => void)[] = [];
    /** The events the handler left for later, with why (BatchTx.retryLater). */
    const deferred = new Map<string, string>();
    try {
      const fresh = await inTransaction(sql, `consume batch ${spec.name}`, async (tx) => {
        const ids = [...new Set(items.map((i) => i.event.id))];
        const claimed = await tx<{ event_id: string }[]>`
          insert into inbox (consumer, event_id)
          select ${spec.name}, unnest(${ids}::uuid[])
          on conflict do nothing returning event_id`;
        const claimedIds = new Set(claimed.map((r) => r.event_id));
        const firstOf = new Map<string, Decoded<T>>();
        for (const item of items) {
          if (claimedIds.has(item.event.id) && !firstOf.has(item.event.id)) {
            firstOf.set(item.event.id, item);
          }
        }
        await resendOutputsOf(
          tx,
          ids.filter((id) => !claimedIds.has(id)),
        );
        const events = [...firstOf.values()].map((i) => i.event);
        const outputs: OutboxEntry[] = [];
        const emitters = new Set<string>();
        const batchTx: BatchTx<T> = {
          sql: tx,
          retryLater: (source, reason) => {
            deferred.set(source.id, reason);
          },
          emitFor: (source, emitted) => {
            emitters.add(source.id);
            const traceHeaders = injectTraceContext(spans.get(source.id)?.ctx);
            for (const event of Array.isArray(emitted) ? emitted : [emitted]) {
              outputs.push({
                ...event,
                correlationId: event.correlationId ?? source.correlationId,
                causationId: event.causationId === undefined ? source.id : event.causationId,
                traceHeaders,
              });
            }
          },
          afterCommit: (fn) => {
            afterCommit.push(fn);
          },
        };
        if (events.length === 1) {
          const [only] = firstOf.values();
          await processing(only as Decoded<T>, () =>
            spec.handle((only as Decoded<T>).event, messageTx(tx, afterCommit)),
          );
        } else if (events.length > 1) {
          await handleBatch(events, batchTx);
        }
        if (deferred.size > 0) {
          const left = [...deferred.keys()];
          if (left.some((id) => emitters.has(id))) {
            throw new Error(`${spec.name}: an event left for later emitted outputs`);
          }
          await tx`delete from inbox where consumer = ${spec.name} and event_id = any(${left}::uuid[])`;
        }
        await appendToOutbox(tx, broker.namespace, outputs);
        return new Set(firstOf.values());
      });
      for (const fn of afterCommit) fn();
      return items.map((item): Outcome => {
        const reason = deferred.get(item.event.id);
        if (reason !== undefined) return { kind: "error", error: new TooEarlyError(reason) };
        return fresh.has(item) ? { kind: "ok", afterCommit: [] } : { kind: "duplicate" };
      });
    } catch (err) {
      for (const { span } of spans.values()) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      }
      throw err;
    } finally {
      for (const { span } of spans.values()) span.end();
    }
  };

  const run = async () => {
    while (!stopped) {
      held.clear(); // what an ended subscription held is delivered to the next one
      try {
        await ensureConsumer();
        const consumer = await broker.js.consumers.get(
          contextStream(broker.namespace, spec.type),
          durable,
        );
        const messages = await consumer.consume({ max_messages: batchSize * 2 });
        current = messages;
        void watchStatus(messages, log, metrics, labels);
        const queue: JsMsg[] = [];
        let notify: (() => void) | undefined;
        let ended = false;
        const pump = (async () => {
          for await (const msg of messages) {
            held.set(msg, Date.now());
            queue.push(msg);
            notify?.();
          }
          ended = true;
          notify?.();
        })();
        /** Until a message arrives or the subscription ends and `ready()` holds, or `ms` pass. */
        const arrivals = (ready: () => boolean, ms?: number) =>
          new Promise<void>((resolve) => {
            const done = () => {
              clearTimeout(timer);
              notify = undefined;
              resolve();
            };
            const timer = ms === undefined ? undefined : setTimeout(done, ms);
            notify = () => {
              if (ready()) done();
            };
          });
        try {
          while (!ended || queue.length > 0) {
            if (queue.length === 0) {
              await arrivals(() => true);
              continue;
            }
            const first = queue[0] as JsMsg;
            const lingered = (held.get(first) ?? Date.now()) + lingerMs - Date.now();
            if (lingered > 0 && queue.length < batchSize && !ended) {
              // until the batch is full, the subscription ends or the first has waited enough
              await arrivals(() => queue.length >= batchSize || ended, lingered);
            }
            await processBatch(queue.splice(0, batchSize));
          }
        } catch (err) {
          // a batch that failed outright (a dead letter that could not be written) ends this
          // subscription: left running, it would go on pulling messages into a queue nobody
          // serves. What it held comes back after its ack wait.
          messages.stop();
          await pump.catch(() => {});
          throw err;
        }
        await pump;
        if (!stopped) {
          metrics.consumerRestarts.inc(labels);
          log.warn("consumer iterator ended; re-creating it");
        }
      } catch (err) {
        if (stopped) break;
        metrics.consumerRestarts.inc(labels);
        log.error({ err }, "consumer failed; re-creating it");
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  };

  const unobserve = metrics.observeConsumer({ name: spec.name, stream, durable, broker });
  const done = run();
  return {
    async stop() {
      stopped = true;
      current?.stop();
      await done;
      clearInterval(heartbeat);
      held.clear();
      unobserve();
    },
  };
}

function summarise(error: { issues: { path: PropertyKey[]; message: string }[] }) {
  return error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
}

function headerRecord(msg: JsMsg): Record<string, string> {
  const out: Record<string, string> = {};
  if (!msg.headers) return out;
  for (const [key, values] of msg.headers) out[key.toLowerCase()] = values[0] ?? "";
  return out;
}

async function watchStatus(
  messages: { status(): AsyncIterable<{ type: string }>; stop(): void },
  log: Logger,
  metrics: Metrics,
  labels: { consumer: string },
) {
  for await (const s of messages.status()) {
    if (
      s.type === "consumer_deleted" ||
      s.type === "consumer_not_found" ||
      s.type === "stream_not_found"
    ) {
      log.warn({ status: s.type }, "consumer or stream vanished; re-creating");
      metrics.consumerRestarts.inc(labels);
      messages.stop();
      return;
    }
  }
}
