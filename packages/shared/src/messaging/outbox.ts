import { v7 as uuidv7 } from "uuid";
import { afterCommit, clientOf, wakeAfterCommit } from "../after-commit.ts";
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

/** An outbox row as a relay publishes it: claimed from the table, or handed over in memory. */
export interface OutboxRow {
  id: string;
  resends: number;
  subject: string;
  type: string;
  /** The envelope as JSON text. */
  payload: string;
  headers: Record<string, string>;
}

/**
 * A relay of this process that takes the rows of its database's `inTransaction` commits straight
 * from memory instead of claiming them: the insert leases them to it for `leaseSeconds` (no
 * claim picks them up meanwhile), and the commit hands them over. A relay that stops gives back
 * what it still holds; should the process die first, the lease runs out and any relay's claim
 * publishes them.
 */
export interface OutboxLane {
  leaseSeconds: number;
  take(rows: OutboxRow[]): void;
}

const lanes = new WeakMap<Sql, OutboxLane[]>();

/** Registers `lane` for rows committed on `sql`; returns its removal. */
export function addOutboxLane(sql: Sql, lane: OutboxLane): () => void {
  lanes.set(sql, [...(lanes.get(sql) ?? []), lane]);
  return () => {
    const rest = (lanes.get(sql) ?? []).filter((l) => l !== lane);
    if (rest.length > 0) lanes.set(sql, rest);
    else lanes.delete(sql);
  };
}

/**
 * Appends events to the outbox inside the caller's transaction: one prepared statement for
 * any number of events. In a transaction `inTransaction` opened, the commit hands the rows to
 * this process's relay (or, without one, wakes the relays it has); elsewhere the statement
 * NOTIFYs the relays. Data is validated against the event's schema here, so a bad event never
 * leaves the service.
 */
export async function appendToOutbox(sql: TxSql | Sql, namespace: string, events: OutboxEntry[]) {
  if (events.length === 0) return [];
  if (clientOf(sql)) {
    const { insert, envelopes } = outboxInsert(sql, namespace, events);
    await insert;
    return envelopes;
  }
  const { insert, envelopes } = buildOutboxInsert(sql, namespace, events);
  await sql`with appended as (${insert}) select pg_notify(${OUTBOX_CHANNEL}, '')`;
  return envelopes;
}

/**
 * `appendToOutbox` as an INSERT fragment, for a hot path that appends in a CTE of its own
 * statement instead of a round trip of its own, in a transaction `inTransaction` opened. The
 * caller must run `insert` in that transaction (or let it roll back): its commit hands these
 * rows to the relay as built here.
 */
export function outboxInsert(sql: TxSql | Sql, namespace: string, events: OutboxEntry[]) {
  const client = clientOf(sql);
  if (!client) {
    throw new Error(
      "outboxInsert needs a transaction opened by inTransaction (see appendToOutbox)",
    );
  }
  const lane = lanes.get(client)?.[0];
  const built = buildOutboxInsert(sql, namespace, events, lane);
  if (lane) afterCommit(sql, () => lane.take(built.rows));
  else wakeAfterCommit(sql, OUTBOX_CHANNEL);
  return built;
}

function buildOutboxInsert(
  sql: TxSql | Sql,
  namespace: string,
  events: OutboxEntry[],
  lane?: OutboxLane,
) {
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
    return {
      envelope,
      row: {
        id,
        resends: 0,
        subject: subjectFor(namespace, event.type),
        type: event.type,
        payload: JSON.stringify(envelope),
        headers,
      } satisfies OutboxRow,
    };
  });
  // leased to the lane's relay (a null lease leaves the row to the relays' claims)
  const insert = sql`
    insert into outbox (id, subject, type, envelope, headers, correlation_id, causation_id,
                        locked_until, attempts)
    select u.*, now() + make_interval(secs => ${lane?.leaseSeconds ?? null}::float8),
           ${lane ? 1 : 0}::int
    from unnest(
      ${rows.map((r) => r.row.id)}::uuid[],
      ${rows.map((r) => r.row.subject)}::text[],
      ${rows.map((r) => r.row.type)}::text[],
      ${rows.map((r) => r.row.payload)}::jsonb[],
      ${rows.map((r) => JSON.stringify(r.row.headers))}::jsonb[],
      ${rows.map((r) => r.envelope.correlationId)}::text[],
      ${rows.map((r) => r.envelope.causationId)}::uuid[]
    ) as u`;
  return { insert, envelopes: rows.map((r) => r.envelope), rows: rows.map((r) => r.row) };
}

/**
 * A duplicate input re-sends what it caused: its outputs become unpublished again and the relay
 * publishes them under a new Nats-Msg-Id (`<event id>:<resends>`), so JetStream's de-dup window
 * cannot swallow a re-send meant to heal a lost hop; the next inbox de-dups by event id.
 * A leased row counts as published: a relay may have sent it and not yet marked it (its mark
 * waits, see relay.ts), and the mark then leaves the re-sent row alone. Every re-send of the
 * outbox (the re-driver, a re-created stream, orders' confirmation) picks rows the same way.
 */
export async function resendOutputsOf(sql: TxSql | Sql, causationIds: string[]) {
  if (causationIds.length === 0) return 0;
  const rows = await sql`
    with resent as (
      update outbox set published_at = null, locked_until = null, resends = resends + 1
      where causation_id = any(${causationIds}::uuid[])
        and (published_at is not null or locked_until is not null)
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
