import { type Broker, connectPostgres, STREAM_CONTEXTS, streamName } from "@codflow/shared";
import { waitFor } from "@codflow/shared/testing";
import type postgres from "postgres";
import type { AcceptedCheckout } from "./burst.ts";
import type { SystemDatabases } from "./invariants.ts";
import type { Stack } from "./stack.ts";
import { connectTestBroker } from "./streams.ts";

type Connections = Record<keyof SystemDatabases, postgres.Sql>;

const connectAll = (dbs: SystemDatabases): Connections => {
  const connect = (url: string) =>
    connectPostgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  return {
    checkout: connect(dbs.checkout),
    inventory: connect(dbs.inventory),
    orders: connect(dbs.orders),
    notifier: connect(dbs.notifier),
  };
};

const closeAll = (c: Connections) => Promise.all(Object.values(c).map((sql) => sql.end()));

/** What is still moving, in words (empty = nothing). */
async function unfinishedWork(db: Connections): Promise<string[]> {
  const count = async (sql: postgres.Sql, query: string) =>
    Number((await sql.unsafe<{ n: number }[]>(`select count(*)::int as n from ${query}`))[0]?.n);
  const busy: [string, number][] = await Promise.all(
    [
      [
        "processing checkouts",
        count(db.checkout, "checkouts where status = 'processing'"),
      ] as const,
      ["active reservations", count(db.inventory, "reservations where status = 'active'")] as const,
      [
        "pending notifications",
        count(db.notifier, "notifications where status = 'pending'"),
      ] as const,
      ...(Object.keys(db) as (keyof Connections)[]).map(
        (s) =>
          [
            `unpublished ${s} outbox rows`,
            count(db[s], "outbox where published_at is null"),
          ] as const,
      ),
    ].map(async ([what, n]) => [what, await n] as [string, number]),
  );
  return busy.filter(([, n]) => n > 0).map(([what, n]) => `${n} ${what}`);
}

/** Each stream's last sequence, and the consumers with messages undelivered or unacknowledged. */
async function brokerState(broker: Broker) {
  const lastSeq: Record<string, number> = {};
  const busy: string[] = [];
  for (const context of STREAM_CONTEXTS) {
    const stream = streamName(broker.namespace, context);
    lastSeq[stream] = (await broker.jsm.streams.info(stream)).state.last_seq;
    for await (const consumer of broker.jsm.consumers.list(stream)) {
      const waiting = consumer.num_pending + consumer.num_ack_pending;
      if (waiting > 0) busy.push(`consumer ${consumer.name} has ${waiting} messages to handle`);
    }
  }
  return { lastSeq, busy };
}

/**
 * Waits until the system is quiet: no checkout processing, every outbox drained, no reservation
 * active, no notification pending, every consumer caught up, and no stream grew while all this
 * was checked (so nothing was in flight between two looks). Outages are waited out; a service
 * that died by itself fails at once. Returns the number of dead letters (a quiet system after
 * chaos should have none).
 */
export async function waitForQuiescence(
  stack: Pick<Stack, "databaseUrls" | "natsUrl" | "namespace" | "unexpectedExits">,
  { timeoutMs = 60_000 } = {},
): Promise<{ deadLetters: number }> {
  const db = connectAll(stack.databaseUrls);
  let broker: Broker | undefined;
  try {
    await waitFor(
      async () => {
        if (stack.unexpectedExits().length > 0) return true;
        broker ??= await connectTestBroker(stack.natsUrl, stack.namespace);
        const before = await brokerState(broker);
        const moving = await unfinishedWork(db);
        const after = await brokerState(broker);
        const grew = Object.keys(after.lastSeq).filter(
          (s) => after.lastSeq[s] !== before.lastSeq[s],
        );
        const busy = [
          ...before.busy,
          ...moving,
          ...(grew.length > 0 ? [`streams ${grew.join(", ")} still growing`] : []),
        ];
        if (busy.length > 0) throw new Error(busy.join("; "));
        return true;
      },
      { timeoutMs, intervalMs: 250, what: "the system to go quiet" },
    );
    const died = stack.unexpectedExits();
    if (died.length > 0) throw new Error(`the system cannot go quiet: ${died.join("; ")}`);
    const active = broker as Broker;
    const deadLetters = (await active.jsm.streams.info(streamName(stack.namespace, "deadletter")))
      .state.messages;
    return { deadLetters };
  } finally {
    await broker?.close();
    await closeAll(db);
  }
}

export interface BurstOutcome {
  byStatus: Record<string, number>;
  byReason: Record<string, number>;
  /** Accepted checkouts missing from the database, and checkouts nobody was answered for. */
  violations: string[];
}

/**
 * How the accepted checkouts ended, read from checkout's database, and whether the database
 * holds exactly those checkouts for these `customers` (a retried request must never have made
 * a second one).
 */
export async function burstOutcome(
  stack: Pick<Stack, "databaseUrls">,
  { accepted, customers }: { accepted: readonly AcceptedCheckout[]; customers: readonly string[] },
): Promise<BurstOutcome> {
  const sql = connectPostgres(stack.databaseUrls.checkout, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ id: string; status: string; failure_reason: string | null }[]>`
      select id, status, failure_reason from checkouts where customer_id = any(${customers})`;
    const inDb = new Map(rows.map((r) => [r.id, r]));
    const acceptedIds = new Set(accepted.map((a) => a.checkoutId));
    const outcome: BurstOutcome = { byStatus: {}, byReason: {}, violations: [] };
    for (const id of acceptedIds) {
      const row = inDb.get(id);
      if (!row) {
        outcome.violations.push(`accepted checkout ${id} is not in checkout's database`);
        continue;
      }
      outcome.byStatus[row.status] = (outcome.byStatus[row.status] ?? 0) + 1;
      if (row.failure_reason)
        outcome.byReason[row.failure_reason] = (outcome.byReason[row.failure_reason] ?? 0) + 1;
    }
    for (const row of rows) {
      if (!acceptedIds.has(row.id))
        outcome.violations.push(`checkout ${row.id} was never answered`);
    }
    return outcome;
  } finally {
    await sql.end();
  }
}
