import { v7 as uuidv7 } from "uuid";
import { wakeAfterCommit } from "../after-commit.ts";
import { currentContext } from "../context.ts";
import type { Sql, TxSql } from "../db.ts";
import { type EventData, type EventType, eventCatalog } from "../events/index.ts";
import { injectTraceContext } from "../telemetry.ts";
import { subjectFor } from "./nats.ts";

/** The channel the relay LISTENs on (appends outside this process's transactions NOTIFY it). */
export const OUTBOX_CHANNEL = "codflow_outbox";

export interface NewEvent<T extends EventType = EventType> {
  type: T;
  data: EventData<T>;
  /** Defaults to the correlation id of the work in progress (the checkout id). */
  correlationId?: string;
  /** Defaults to the event being handled, so a duplicate input can find its outputs. */
  causationId?: string | null;
}

/** An event with the trace context it leaves with (default: the active one). */
export type OutboxEntry = NewEvent & { traceHeaders?: Record<string, string> };

/**
 * Appends events to the outbox inside the caller's transaction: one prepared statement for
 * any number of events. This process's relay wakes when the transaction commits
 * (`wakeAfterCommit`; a transaction `inTransaction` did not open, or no transaction, NOTIFYs
 * instead). Data is validated against the event's schema here, so a bad event never leaves the
 * service.
 */
export async function appendToOutbox(sql: TxSql | Sql, namespace: string, events: OutboxEntry[]) {
  if (events.length === 0) return [];
  const { insert, envelopes } = buildOutboxInsert(sql, namespace, events);
  if (wakeAfterCommit(sql, OUTBOX_CHANNEL)) await insert;
  else await sql`with appended as (${insert}) select pg_notify(${OUTBOX_CHANNEL}, '')`;
  return envelopes;
}

/**
 * `appendToOutbox` as an INSERT fragment, for a hot path that appends in a CTE of its own
 * statement instead of a round trip of its own, in a transaction `inTransaction` opened (whose
 * commit wakes the relay). The envelopes are built here either way.
 */
export function outboxInsert(sql: TxSql | Sql, namespace: string, events: OutboxEntry[]) {
  if (!wakeAfterCommit(sql, OUTBOX_CHANNEL)) {
    throw new Error(
      "outboxInsert needs a transaction opened by inTransaction (see appendToOutbox)",
    );
  }
  return buildOutboxInsert(sql, namespace, events);
}

function buildOutboxInsert(sql: TxSql | Sql, namespace: string, events: OutboxEntry[]) {
  const ctx = currentContext();
  const now = new Date().toISOString();
  const rows = events.map((event) => {
    const spec = eventCatalog[event.type];
    const data = spec.schema.parse(event.data);
    const correlationId = event.correlationId ?? ctx.correlationId;
    if (!correlationId) throw new Error(`event ${event.type} has no correlation id`);
    const id = uuidv7();
    const envelope = {
      id,
      type: event.type,
      version: spec.version,
      occurredAt: now,
      correlationId,
      causationId: event.causationId === undefined ? (ctx.causationId ?? null) : event.causationId,
      data,
    };
    const headers = event.traceHeaders ?? injectTraceContext();
    return { envelope, subject: subjectFor(namespace, event.type), headers };
  });
  const insert = sql`
    insert into outbox (id, subject, type, envelope, headers, correlation_id, causation_id)
    select * from unnest(
      ${rows.map((r) => r.envelope.id)}::uuid[],
      ${rows.map((r) => r.subject)}::text[],
      ${rows.map((r) => r.envelope.type)}::text[],
      ${rows.map((r) => JSON.stringify(r.envelope))}::jsonb[],
      ${rows.map((r) => JSON.stringify(r.headers))}::jsonb[],
      ${rows.map((r) => r.envelope.correlationId)}::text[],
      ${rows.map((r) => r.envelope.causationId)}::uuid[]
    )`;
  return { insert, envelopes: rows.map((r) => r.envelope) };
}

/**
 * A duplicate input re-sends what it caused: its outputs become unpublished again and the relay
 * publishes them under a new Nats-Msg-Id (`<event id>:<resends>`), so JetStream's de-dup window
 * cannot swallow a re-send meant to heal a lost hop; the next inbox de-dups by event id.
 */
export async function resendOutputsOf(sql: TxSql | Sql, causationIds: string[]) {
  if (causationIds.length === 0) return 0;
  const rows = await sql`
    with resent as (
      update outbox set published_at = null, locked_until = null, resends = resends + 1
      where causation_id = any(${causationIds}::uuid[]) and published_at is not null
      returning 1
    )
    select count(*)::int as n ${wakeRelayAfter(sql)} from resent`;
  return (rows[0]?.n as number) ?? 0;
}

/**
 * For a statement that makes outbox rows due: the select-list tail that wakes the relays. In a
 * transaction `inTransaction` opened, nothing (this process's relay wakes at commit: see
 * after-commit.ts for why not NOTIFY); elsewhere `, pg_notify(…)` (rare paths only).
 */
export function wakeRelayAfter(sql: TxSql | Sql) {
  return wakeAfterCommit(sql, OUTBOX_CHANNEL) ? sql`` : sql`, pg_notify(${OUTBOX_CHANNEL}, '')`;
}

/** The smallest UUIDv7 of millisecond `ms`: every id created at `ms` or later sorts after it. */
export function uuidv7Floor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}
