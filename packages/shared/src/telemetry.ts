import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-node";
import { forgetTransaction, runAfterCommit, trackTransaction } from "./after-commit.ts";
import type { Sql, TxSql } from "./db.ts";

export { SpanKind };

/**
 * Registers the W3C propagator and a context manager always, so trace ids reach logs and
 * `traceparent` crosses every hop; spans leave the process only when an OTLP endpoint is set
 * (OTLP/HTTP JSON to `${endpoint}/v1/traces`). Tests pass `spanProcessors` (e.g. a
 * SimpleSpanProcessor over an InMemorySpanExporter) to see the spans in-process.
 */
export function startTelemetry({
  service,
  endpoint,
  spanProcessors = [],
}: {
  service: string;
  endpoint?: string;
  spanProcessors?: SpanProcessor[];
}) {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": service }),
    spanProcessors: [
      ...(endpoint
        ? [
            new BatchSpanProcessor(
              new OTLPTraceExporter({ url: `${endpoint.replace(/\/$/, "")}/v1/traces` }),
            ),
          ]
        : []),
      ...spanProcessors,
    ],
  });
  provider.register();
  return {
    /** Flushes the spans, then unregisters the globals (a test may start telemetry again). */
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

export const tracer = () => trace.getTracer("codflow");

/** Writes the active trace context into a plain header map (HTTP, NATS, an outbox row). */
export function injectTraceContext(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

export function extractTraceContext(carrier: Record<string, string | undefined>): Context {
  return propagation.extract(context.active(), carrier, {
    get: (c, key) => c[key],
    keys: (c) => Object.keys(c),
  });
}

/**
 * A SERVER span for a request served without Hono (the gateway's proxy), continuing the caller's
 * `traceparent` and nothing else (no stale context of a pooled socket). `traceHeaders` carry it
 * to the next hop; `end` records the status sent, or the error when none could be.
 */
export function startServerSpan(
  name: string,
  requestHeaders: Record<string, string | string[] | undefined>,
  attributes: Attributes,
) {
  const parent = propagation.extract(ROOT_CONTEXT, requestHeaders);
  const span = tracer().startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
  return {
    span,
    traceHeaders: injectTraceContext(trace.setSpan(parent, span)),
    end(status: number | undefined, error?: Error) {
      if (status !== undefined) span.setAttribute("http.response.status_code", status);
      if (error) span.recordException(error);
      if (error || (status ?? 0) >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    },
  };
}

/** Runs `fn` inside a span that records an exception and ends however `fn` finishes. */
export async function inSpan<T>(
  name: string,
  options: {
    kind?: SpanKind;
    attributes?: Record<string, string | number | boolean>;
    parent?: Context;
  },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = options.parent ?? context.active();
  return tracer().startActiveSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes ?? {} },
    parent,
    async (span) => {
      try {
        return await fn(span);
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/** Database calls in flight (`inDbSpan`), in the order they started. */
const dbCallsInFlight = new Set<{ name: string; since: number }>();

/**
 * The database call (`inDbSpan`, so every `inTransaction`) in flight the longest: its name and
 * when it started (epoch ms); undefined when none is. What the liveness watchdog looks at.
 */
export function oldestDbCall(): { name: string; since: number } | undefined {
  return dbCallsInFlight.values().next().value;
}

/**
 * Runs `fn`, the statements of one transaction, inside a `db.transaction <name>` client span
 * (`db.system=postgresql`, `db.operation.name=<name>`). inTransaction opens it for every explicit
 * transaction; a single statement runs in it directly, as its own implicit transaction, since
 * BEGIN and COMMIT around one statement are two round trips that change nothing.
 * Example: `inDbSpan("outbox.mark-published", () => sql\`update outbox …\`)`.
 */
export function inDbSpan<T>(name: string, fn: () => Promise<T>) {
  const call = { name, since: Date.now() };
  dbCallsInFlight.add(call);
  return inSpan(
    `db.transaction ${name}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        "db.system": "postgresql",
        "db.system.name": "postgresql",
        "db.operation.name": name,
      },
    },
    fn,
  ).finally(() => dbCallsInFlight.delete(call));
}

/**
 * Runs `fn` in a Postgres transaction inside its `db.transaction <name>` span (inDbSpan), then
 * the after-commit work `fn` queued (see after-commit.ts), once the commit succeeded: the one
 * way services and the shared messaging code open transactions.
 * Example: `inTransaction(sql, "checkout.accept", (tx) => …)`.
 */
export function inTransaction<T>(sql: Sql, name: string, fn: (tx: TxSql) => Promise<T>) {
  return inDbSpan(name, async () => {
    let opened: TxSql | undefined;
    try {
      const result = (await sql.begin((tx) => {
        opened = tx;
        trackTransaction(tx, sql);
        return fn(tx);
      })) as T;
      if (opened) runAfterCommit(opened, sql);
      return result;
    } finally {
      if (opened) forgetTransaction(opened);
    }
  });
}
