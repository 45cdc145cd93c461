import type { Backend, ReadOnlySql } from "./databases.ts";

/** One thing that happened to a checkout, in one service, at one instant. */
export interface TimelineEntry {
  at: string;
  service: Backend;
  step:
    | "request"
    | "consume"
    | "reservation"
    | "stock"
    | "order"
    | "order-event"
    | "notification"
    | "outcome"
    | "emit"
    | "notification-sent";
  summary: string;
  details: Record<string, unknown>;
}

export interface OutboxEvent {
  service: Backend;
  id: string;
  type: string;
  causationId: string | null;
  createdAt: string;
  publishedAt: string | null;
  attempts: number;
  resends: number;
  lastError: string | null;
  traceId: string | null;
}

export interface Inspection {
  checkoutId: string;
  /** The trace every outbox row of this checkout carries (null when none carried one). */
  traceId: string | null;
  /** All distinct trace ids found; more than one means a hop lost its trace context. */
  traceIds: string[];
  checkout: Record<string, unknown> | null;
  reservation: Record<string, unknown> | null;
  order: Record<string, unknown> | null;
  notifications: Record<string, unknown>[];
  events: OutboxEvent[];
  timeline: TimelineEntry[];
}

export class UnknownCheckoutError extends Error {}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: string) => UUID.test(s);

/** `timestamptz::text` in a UTC session ("2026-11-25 14:39:20.12+00") → fixed-width ISO. */
export function iso(text: string): string;
export function iso(text: string | null): string | null;
export function iso(text: string | null): string | null {
  if (text === null) return null;
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d+))?\+00$/.exec(text);
  if (!m) return new Date(text).toISOString();
  return `${m[1]}T${m[2]}.${(m[3] ?? "").padEnd(6, "0")}Z`;
}

/** The trace id of a W3C `traceparent` (version-traceid-spanid-flags). */
export function traceIdOf(headers: Record<string, string> | null | undefined): string | null {
  const tp = headers?.traceparent;
  const m =
    typeof tp === "string"
      ? /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(tp)
      : null;
  return m?.[1] && !/^0+$/.test(m[1]) ? m[1] : null;
}

/** Removes e-mail addresses (a recipient in an SMTP error) from text the CLI prints. */
const noEmails = (s: string | null) => s?.replace(/[^\s<>"'@]+@[^\s<>"'@]+/g, "<email>") ?? null;

// Within one instant (one transaction), an input is consumed, then state changes, then the
// outputs are emitted: this order breaks ties between rows written by the same transaction.
const RANK: Record<TimelineEntry["step"], number> = {
  request: 0,
  consume: 1,
  reservation: 2,
  stock: 2,
  order: 2,
  "order-event": 2,
  notification: 2,
  outcome: 3,
  emit: 4,
  "notification-sent": 5,
};

interface OutboxRow {
  id: string;
  type: string;
  causation_id: string | null;
  headers: Record<string, string> | null;
  created_at: string;
  published_at: string | null;
  attempts: number;
  resends: number;
  last_error: string | null;
}

async function outboxOf(sql: ReadOnlySql, checkoutId: string) {
  return sql<OutboxRow[]>`
    select id, type, causation_id, headers, created_at::text, published_at::text, attempts,
           resends, last_error
    from outbox where correlation_id = ${checkoutId} order by created_at, id`;
}

async function inboxOf(sql: ReadOnlySql, eventIds: string[]) {
  if (eventIds.length === 0) return [];
  return sql<{ consumer: string; event_id: string; processed_at: string }[]>`
    select consumer, event_id, processed_at::text from inbox
    where event_id = any(${eventIds}::uuid[]) order by processed_at`;
}

/**
 * Reads a checkout's saga from the four services' databases (read-only connections) and lays it
 * out as one timeline. Throws UnknownCheckoutError when no database knows the id.
 */
export async function inspectCheckout(
  db: Record<Backend, ReadOnlySql>,
  checkoutId: string,
): Promise<Inspection> {
  if (!isUuid(checkoutId)) throw new TypeError(`not a checkout id (a uuid): "${checkoutId}"`);
  const services = Object.keys(db) as Backend[];
  const outboxes = await Promise.all(services.map((s) => outboxOf(db[s], checkoutId)));
  const events: OutboxEvent[] = services.flatMap((service, i) =>
    (outboxes[i] ?? []).map((r) => ({
      service,
      id: r.id,
      type: r.type,
      causationId: r.causation_id,
      createdAt: iso(r.created_at),
      publishedAt: iso(r.published_at),
      attempts: r.attempts,
      resends: r.resends,
      lastError: r.last_error,
      traceId: traceIdOf(r.headers),
    })),
  );
  const eventIds = events.map((e) => e.id);
  const typeOf = new Map(events.map((e) => [e.id, e.type]));

  const [checkoutRows, inboxes, reservations, orders, notifications] = await Promise.all([
    db.checkout<
      {
        id: string;
        status: string;
        created_at: string;
        updated_at: string;
        completed_at: string | null;
        last_progress_at: string;
        redrives: number;
        failure_reason: string | null;
        failure_detail: string | null;
        order_id: string | null;
        order_number: string | null;
        total_minor: number;
        currency: string;
        lines: number;
      }[]
    >`
      select c.id, c.status, c.created_at::text, c.updated_at::text, c.completed_at::text,
             c.last_progress_at::text, c.redrives, c.failure_reason, c.failure_detail, c.order_id,
             c.order_number, c.total_minor, c.currency,
             (select count(*)::int from checkout_lines l where l.checkout_id = c.id) as lines
      from checkouts c where c.id = ${checkoutId}`,
    Promise.all(services.map((s) => inboxOf(db[s], eventIds))),
    db.inventory<
      { id: string; status: string; expires_at: string; created_at: string; updated_at: string }[]
    >`
      select id, status::text, expires_at::text, created_at::text, updated_at::text
      from reservations where checkout_id = ${checkoutId}`,
    db.orders<
      {
        id: string;
        number: string;
        status: string;
        total_minor: string;
        currency: string;
        created_at: string;
      }[]
    >`
      select id, number, status, total_minor::text, currency, created_at::text
      from orders where checkout_id = ${checkoutId}`,
    db.notifier<
      {
        id: string;
        event_id: string;
        template: string;
        status: string;
        attempts: number;
        last_error: string | null;
        created_at: string;
        sent_at: string | null;
      }[]
    >`
      select id, event_id, template, status, attempts, last_error, created_at::text, sent_at::text
      from notifications
      where checkout_id = ${checkoutId} or event_id = any(${eventIds}::uuid[])
      order by created_at, id`,
  ]);

  const timeline: TimelineEntry[] = [];
  const add = (e: Omit<TimelineEntry, "at"> & { at: string | null }) => {
    if (e.at) timeline.push(e as TimelineEntry);
  };

  const c = checkoutRows[0];
  let checkout: Inspection["checkout"] = null;
  if (c) {
    checkout = {
      id: c.id,
      status: c.status,
      createdAt: iso(c.created_at),
      updatedAt: iso(c.updated_at),
      completedAt: iso(c.completed_at),
      lastProgressAt: iso(c.last_progress_at),
      redrives: c.redrives,
      lines: c.lines,
      totalMinor: c.total_minor,
      currency: c.currency,
      orderId: c.order_id,
      orderNumber: c.order_number,
      failure: c.failure_reason ? { reason: c.failure_reason, detail: c.failure_detail } : null,
    };
    add({
      at: iso(c.created_at),
      service: "checkout",
      step: "request",
      summary: `checkout accepted: ${c.lines} line(s), ${c.total_minor} ${c.currency} minor units`,
      details: { status: "processing" },
    });
    if (c.completed_at)
      add({
        at: iso(c.completed_at),
        service: "checkout",
        step: "outcome",
        summary:
          c.status === "confirmed"
            ? `checkout confirmed: order ${c.order_number ?? c.order_id}`
            : `checkout ${c.status}: ${c.failure_reason}${c.failure_detail ? ` (${c.failure_detail})` : ""}`,
        details: { status: c.status, failureReason: c.failure_reason },
      });
  }

  for (const e of events)
    add({
      at: e.createdAt,
      service: e.service,
      step: "emit",
      summary: `emitted ${e.type}${e.publishedAt ? `, published ${e.publishedAt}` : ", NOT PUBLISHED"}${e.resends ? `, re-sent ${e.resends}x` : ""}`,
      details: {
        eventId: e.id,
        type: e.type,
        publishedAt: e.publishedAt,
        resends: e.resends,
        attempts: e.attempts,
        lastError: e.lastError,
      },
    });
  services.forEach((service, i) => {
    for (const r of inboxes[i] ?? [])
      add({
        at: iso(r.processed_at),
        service,
        step: "consume",
        summary: `consumed ${typeOf.get(r.event_id) ?? r.event_id} (${r.consumer})`,
        details: { consumer: r.consumer, eventId: r.event_id, type: typeOf.get(r.event_id) },
      });
  });

  let reservation: Inspection["reservation"] = null;
  const r = reservations[0];
  if (r) {
    const [lines, ledger] = await Promise.all([
      db.inventory<{ variant_id: string; qty: number; unit_price_minor: number }[]>`
        select variant_id, qty, unit_price_minor from reservation_lines
        where reservation_id = ${r.id} order by variant_id`,
      db.inventory<
        {
          id: string;
          variant_id: string;
          kind: string;
          on_hand_delta: number;
          reserved_delta: number;
          committed_delta: number;
          created_at: string;
        }[]
      >`
        select id::text, variant_id, kind::text, on_hand_delta, reserved_delta, committed_delta,
               created_at::text
        from stock_movements
        where checkout_id = ${checkoutId} or reservation_id = ${r.id} order by id`,
    ]);
    reservation = {
      id: r.id,
      status: r.status,
      expiresAt: iso(r.expires_at),
      createdAt: iso(r.created_at),
      updatedAt: iso(r.updated_at),
      lines: lines.map((l) => ({
        variantId: l.variant_id,
        qty: l.qty,
        unitPriceMinor: l.unit_price_minor,
      })),
      ledger: ledger.map((m) => ({
        id: Number(m.id),
        kind: m.kind,
        variantId: m.variant_id,
        onHandDelta: m.on_hand_delta,
        reservedDelta: m.reserved_delta,
        committedDelta: m.committed_delta,
        at: iso(m.created_at),
      })),
    };
    add({
      at: iso(r.created_at),
      service: "inventory",
      step: "reservation",
      summary: `reservation ${r.id}: ${lines.length} line(s) reserved until ${iso(r.expires_at)}`,
      details: { reservationId: r.id, status: "active", lines: reservation.lines },
    });
    if (r.status !== "active")
      add({
        at: iso(r.updated_at),
        service: "inventory",
        step: "reservation",
        summary: `reservation ${r.status}`,
        details: { reservationId: r.id, status: r.status },
      });
    for (const m of ledger) {
      const deltas = (
        [
          ["on_hand", m.on_hand_delta],
          ["reserved", m.reserved_delta],
          ["committed", m.committed_delta],
        ] as const
      )
        .filter(([, d]) => d !== 0)
        .map(([k, d]) => `${k} ${d > 0 ? "+" : ""}${d}`)
        .join(", ");
      add({
        at: iso(m.created_at),
        service: "inventory",
        step: "stock",
        summary: `stock ${m.kind} variant ${m.variant_id}: ${deltas || "no change"}`,
        details: { movementId: Number(m.id), kind: m.kind, variantId: m.variant_id },
      });
    }
  }

  let order: Inspection["order"] = null;
  const o = orders[0];
  if (o) {
    const history = await db.orders<
      {
        actor: string;
        role: string;
        from_status: string | null;
        to_status: string;
        at: string;
      }[]
    >`
      select actor, role, from_status, to_status, at::text from order_events
      where order_id = ${o.id} order by at, id`;
    order = {
      id: o.id,
      number: o.number,
      status: o.status,
      totalMinor: Number(o.total_minor),
      currency: o.currency,
      createdAt: iso(o.created_at),
      history: history.map((h) => ({
        from: h.from_status,
        to: h.to_status,
        actor: h.actor,
        role: h.role,
        at: iso(h.at),
      })),
    };
    add({
      at: iso(o.created_at),
      service: "orders",
      step: "order",
      summary: `order ${o.number} created (now ${o.status})`,
      details: { orderId: o.id, number: o.number },
    });
    for (const h of history)
      add({
        at: iso(h.at),
        service: "orders",
        step: "order-event",
        summary: `order ${h.from_status ?? "(new)"} → ${h.to_status} by ${h.role}`,
        details: { from: h.from_status, to: h.to_status, role: h.role },
      });
  }

  const notes = notifications.map((n) => ({
    id: n.id,
    eventId: n.event_id,
    template: n.template,
    status: n.status,
    attempts: n.attempts,
    sentAt: iso(n.sent_at),
    createdAt: iso(n.created_at),
    lastError: noEmails(n.last_error),
  }));
  for (const n of notes) {
    add({
      at: n.createdAt,
      service: "notifier",
      step: "notification",
      summary: `notification ${n.template} queued (now ${n.status}, ${n.attempts} attempt(s))`,
      details: { notificationId: n.id, template: n.template, status: n.status },
    });
    if (n.sentAt)
      add({
        at: n.sentAt,
        service: "notifier",
        step: "notification-sent",
        summary: `notification ${n.template} sent after ${n.attempts} attempt(s)`,
        details: { notificationId: n.id, template: n.template },
      });
  }

  if (!c && events.length === 0 && !r && !o && notes.length === 0)
    throw new UnknownCheckoutError(`no checkout ${checkoutId} in any service's database`);

  timeline.sort((a, b) => (a.at === b.at ? RANK[a.step] - RANK[b.step] : a.at < b.at ? -1 : 1));
  const traceIds = [...new Set(events.map((e) => e.traceId).filter((t): t is string => !!t))];
  return {
    checkoutId,
    traceId: traceIds[0] ?? null,
    traceIds,
    checkout,
    reservation,
    order,
    notifications: notes,
    events,
    timeline,
  };
}

/** The inspection as an operator reads it in a terminal. */
export function formatInspection(x: Inspection): string {
  const out: string[] = [];
  const c = x.checkout;
  out.push(`checkout ${x.checkoutId}`);
  if (c) {
    out.push(
      `  status ${c.status}; created ${c.createdAt}; updated ${c.updatedAt}; redrives ${c.redrives}`,
    );
    const failure = c.failure as { reason: string; detail: string | null } | null;
    if (failure) out.push(`  failure ${failure.reason}: ${failure.detail ?? ""}`);
  } else out.push("  (not in checkout's database)");
  out.push(
    x.traceIds.length > 1
      ? `  trace ids ${x.traceIds.join(", ")} (more than one: a hop lost the trace context)`
      : `  trace ${x.traceId ?? "(none recorded)"}`,
  );
  if (x.reservation)
    out.push(
      `  reservation ${x.reservation.id} ${x.reservation.status}, expires ${x.reservation.expiresAt}`,
    );
  if (x.order) out.push(`  order ${x.order.number} ${x.order.status}`);
  out.push("", "timeline:");
  const width = Math.max(...x.timeline.map((e) => e.service.length), 0);
  for (const e of x.timeline) out.push(`  ${e.at}  ${e.service.padEnd(width)}  ${e.summary}`);
  return out.join("\n");
}
