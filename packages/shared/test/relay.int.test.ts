import postgres from "postgres";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addOutboxLane,
  appendToOutbox,
  inTransaction,
  resendOutputsOf,
  startOutboxRelay,
  streamName,
  uuidv7Floor,
} from "../src/index.ts";
import { startTestPlatform, type TestPlatform, waitFor } from "../src/testing/index.ts";
import { requestedData } from "./helpers.ts";

let fx: TestPlatform;
beforeAll(async () => {
  fx = await startTestPlatform("shared");
});
afterAll(() => fx.close());

/**
 * A client of the test database recording the first word of each statement it sends, but LISTEN
 * and UNLISTEN: the worker loop's LISTEN runs on a connection of its own, at any moment.
 */
function recordingClient() {
  const statements: string[] = [];
  const sql = postgres(fx.databaseUrl, {
    max: 2,
    onnotice: () => {},
    debug: (_connection, query) => {
      const verb = query.trim().split(/\s+/)[0]?.toLowerCase() ?? "";
      if (verb !== "listen" && verb !== "unlisten") statements.push(verb);
    },
  });
  return { sql, statements };
}

/** Three `checkout.requested` events, correlated `<prefix>-1` to `<prefix>-3`. */
const threeRequests = (prefix: string) =>
  [1, 2, 3].map((i) => ({
    type: "checkout.requested" as const,
    data: requestedData(),
    correlationId: `${prefix}-${i}`,
  }));

/** How many of `ids` are marked published. */
const markedOf = async (ids: string[]) =>
  (await fx.sql`select 1 from outbox where id = any(${ids}::uuid[]) and published_at is not null`)
    .length;

const streamMessages = async () =>
  (await fx.broker.jsm.streams.info(streamName(fx.namespace, "checkout"))).state.messages;

describe("outbox relay", () => {
  it("publishes a committed event once, with its id as Nats-Msg-Id, and never a rolled-back one", async () => {
    const before = await streamMessages();
    const [committed] = await fx.sql.begin((tx) =>
      appendToOutbox(tx, fx.namespace, [
        { type: "checkout.requested", data: requestedData(), correlationId: "c1" },
      ]),
    );
    await fx.sql
      .begin(async (tx) => {
        await appendToOutbox(tx, fx.namespace, [
          { type: "checkout.requested", data: requestedData(), correlationId: "c2" },
        ]);
        throw new Error("rollback");
      })
      .catch(() => {});
    const relay = startOutboxRelay({ ...fx.consumerDeps });
    try {
      await waitFor(async () => (await streamMessages()) === before + 1, {
        what: "one published message",
      });
      const msg = await fx.broker.jsm.streams.getMessage(streamName(fx.namespace, "checkout"), {
        last_by_subj: `${fx.namespace}.checkout.requested`,
      });
      expect(msg?.header.get("Nats-Msg-Id")).toBe(committed?.id);
      expect(msg?.json<{ id: string }>().id).toBe(committed?.id);
      const row = await waitFor(
        async () =>
          (
            await fx.sql`select published_at, attempts from outbox where id = ${committed?.id ?? ""}`
          ).find((r) => r.published_at !== null),
        { what: "the row marked published" },
      );
      expect(row.attempts).toBe(1);
    } finally {
      await relay.stop();
    }
  });

  it("gives two relays disjoint batches: 600 rows, each published by exactly one claim", async () => {
    const events = Array.from({ length: 600 }, (_, i) => ({
      type: "checkout.requested" as const,
      data: requestedData(),
      correlationId: `bulk-${i}`,
    }));
    await fx.sql.begin((tx) => appendToOutbox(tx, fx.namespace, events));
    const relays = [
      startOutboxRelay({ ...fx.consumerDeps, batchSize: 50 }),
      startOutboxRelay({ ...fx.consumerDeps, batchSize: 50 }),
    ];
    try {
      await waitFor(
        async () => {
          const [r] =
            await fx.sql`select count(*)::int as n from outbox where published_at is null`;
          return r?.n === 0;
        },
        { what: "outbox drained" },
      );
      const attempts =
        await fx.sql`select attempts, count(*)::int as n from outbox where correlation_id like 'bulk-%' group by attempts`;
      expect(attempts).toEqual([{ attempts: 1, n: 600 }]);
    } finally {
      await Promise.all(relays.map((r) => r.stop()));
    }
  });

  it("retries rows whose publish failed until the broker takes them", async () => {
    await fx.broker.jsm.streams.delete(streamName(fx.namespace, "checkout"));
    await fx.sql.begin((tx) =>
      appendToOutbox(tx, fx.namespace, [
        { type: "checkout.requested", data: requestedData(), correlationId: "late" },
      ]),
    );
    const relay = startOutboxRelay({ ...fx.consumerDeps });
    try {
      await waitFor(
        async () => {
          const [r] =
            await fx.sql`select attempts, last_error from outbox where correlation_id = 'late'`;
          return (r?.attempts as number) >= 1 && r?.last_error !== null;
        },
        { what: "a failed publish attempt" },
      );
      const { ensureStreams } = await import("../src/index.ts");
      await ensureStreams(fx.broker);
      relay.wake();
      await waitFor(
        async () => {
          const [r] = await fx.sql`select published_at from outbox where correlation_id = 'late'`;
          return r?.published_at !== null;
        },
        { timeoutMs: 20_000, what: "the row published after the stream came back" },
      );
    } finally {
      await relay.stop();
    }
  });

  it("publishes a batch with two statements and no transaction around them: the claim and the mark", async () => {
    const { sql, statements } = recordingClient();
    const ids = (
      await fx.sql.begin((tx) => appendToOutbox(tx, fx.namespace, threeRequests("batch")))
    ).map((e) => e.id);
    const relay = startOutboxRelay({ ...fx.consumerDeps, sql, pollMs: 60_000 });
    try {
      await waitFor(async () => (await markedOf(ids)) === 3, {
        what: "the batch marked published",
      });
    } finally {
      await relay.stop();
      await sql.end({ timeout: 1 });
    }
    // from the claim (`with due as (…) update outbox …`) on: the mark (retention's delete may
    // come first: the mark waits for the marks of later publishes)
    const fromClaim = statements.slice(statements.indexOf("with"));
    expect(fromClaim.filter((verb) => verb !== "delete").slice(0, 2)).toEqual(["with", "update"]);
    expect(statements).not.toContain("begin");
    expect(statements).not.toContain("commit");
  });

  it("skips a row another transaction holds, and publishes it once that holder dies", async () => {
    const [held] = await fx.sql.begin((tx) =>
      appendToOutbox(tx, fx.namespace, [
        { type: "checkout.requested", data: requestedData(), correlationId: "held" },
      ]),
    );
    // a transaction holding the row (another relay's claim in flight): SKIP LOCKED passes it by;
    // on a client of its own, so no query of this file meets the connection it kills
    const holderSql = postgres(fx.databaseUrl, { max: 1, onnotice: () => {} });
    const dying = await holderSql.reserve();
    await dying`begin`;
    await dying`select id from outbox where id = ${held?.id ?? ""} for update`;
    const [holder] = await dying<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const relay = startOutboxRelay({ ...fx.consumerDeps });
    try {
      const [later] = await fx.sql.begin((tx) =>
        appendToOutbox(tx, fx.namespace, [
          { type: "checkout.requested", data: requestedData(), correlationId: "after-held" },
        ]),
      );
      const published = async (id: string | undefined) =>
        (await fx.sql`select published_at from outbox where id = ${id ?? ""}`)[0]?.published_at;
      await waitFor(async () => (await published(later?.id)) !== null, {
        what: "the relay publishing around the held row",
      });
      expect(await published(held?.id)).toBeNull();
      await fx.sql`select pg_terminate_backend(${holder?.pid ?? 0})`;
      await waitFor(async () => (await published(held?.id)) !== null, {
        what: "the held row published after its holder died",
      });
      const [row] = await fx.sql`select attempts from outbox where id = ${held?.id ?? ""}`;
      expect(row?.attempts).toBe(1);
    } finally {
      dying.release();
      await relay.stop();
      await holderSql.end({ timeout: 1 });
    }
  });

  it("orders UUIDv7 ids by creation time, which retention and replay rely on", () => {
    const now = Date.now();
    const id = uuidv7({ msecs: now });
    expect(uuidv7Floor(now) <= id).toBe(true);
    expect(id < uuidv7Floor(now + 1)).toBe(true);
    expect(uuidv7Floor(now - 1) < uuidv7Floor(now)).toBe(true);
  });
});

describe("outbox relay: the fast lane for this process's commits", () => {
  const outboxRow = async (id: string | undefined) =>
    (
      await fx.sql<{ publishedAt: string | null; lockedUntil: string | null; attempts: number }[]>`
        select published_at as "publishedAt", locked_until as "lockedUntil", attempts
        from outbox where id = ${id ?? ""}`
    )[0];

  it("publishes the rows of an inTransaction commit on its client at once, with no claim", async () => {
    const { sql, statements } = recordingClient();
    // no poll for a minute: only the lane can publish the row in time
    const relay = startOutboxRelay({ ...fx.consumerDeps, sql, pollMs: 60_000 });
    try {
      await waitFor(async () => statements.includes("with"), { what: "the relay's first claim" });
      await waitFor(async () => statements.at(-1) !== "with", { what: "the first claim answered" });
      const before = statements.length;
      const [event] = await inTransaction(sql, "test.append", (tx) =>
        appendToOutbox(tx, fx.namespace, [
          { type: "checkout.requested", data: requestedData(), correlationId: "lane-1" },
        ]),
      );
      await waitFor(async () => (await outboxRow(event?.id))?.publishedAt != null, {
        timeoutMs: 5_000,
        what: "the committed row published without a poll",
      });
      const msg = await fx.broker.jsm.streams.getMessage(streamName(fx.namespace, "checkout"), {
        last_by_subj: `${fx.namespace}.checkout.requested`,
      });
      expect(msg?.header.get("Nats-Msg-Id")).toBe(event?.id);
      expect(msg?.json<{ id: string }>().id).toBe(event?.id);
      // the append's own transaction, then the relay's mark: nothing claimed the row (a new
      // connection's type query may come in between)
      const since = statements.slice(before).filter((verb) => verb !== "select");
      expect(since).toEqual(["begin", "insert", "commit", "update"]);
      expect(await outboxRow(event?.id)).toMatchObject({ lockedUntil: null, attempts: 1 });
    } finally {
      await relay.stop();
      await sql.end({ timeout: 1 });
    }
  });

  const lastMsgId = async () =>
    (
      await fx.broker.jsm.streams.getMessage(streamName(fx.namespace, "checkout"), {
        last_by_subj: `${fx.namespace}.checkout.requested`,
      })
    )?.header.get("Nats-Msg-Id");

  /** A relay on a client of its own: that client's `inTransaction` commits reach it by the lane. */
  const laneRelay = (options: Partial<Parameters<typeof startOutboxRelay>[0]>) => {
    const sql = postgres(fx.databaseUrl, { max: 2, onnotice: () => {} });
    const relay = startOutboxRelay({ ...fx.consumerDeps, sql, pollMs: 60_000, ...options });
    const close = async () => {
      await relay.stop();
      await sql.end({ timeout: 1 });
    };
    return { sql, relay, close };
  };

  it("marks the rows of several publishes in one statement, each with the time it was sent", async () => {
    const { sql, statements } = recordingClient();
    // no mark before the stop: every publish below waits for the same one
    const relay = startOutboxRelay({
      ...fx.consumerDeps,
      sql,
      pollMs: 60_000,
      markDelayMs: 60_000,
    });
    try {
      await waitFor(async () => statements.includes("with"), { what: "the relay's first claim" });
      await waitFor(async () => statements.at(-1) !== "with", { what: "the first claim answered" });
      const before = statements.length;
      const ids: string[] = [];
      const sent: number[] = [];
      for (const i of [1, 2, 3]) {
        const [event] = await inTransaction(sql, "test.append", (tx) =>
          appendToOutbox(tx, fx.namespace, [
            { type: "checkout.requested", data: requestedData(), correlationId: `marks-${i}` },
          ]),
        );
        ids.push(event?.id ?? "");
        // each commit is published on its own before the next one is made
        await waitFor(async () => (await lastMsgId()) === event?.id, {
          intervalMs: 5,
          what: `publish ${i}`,
        });
        sent.push(Date.now());
      }
      await relay.stop();
      const rows = await fx.sql<{ id: string; publishedAt: string | null }[]>`
        select id, published_at as "publishedAt" from outbox where id = any(${ids}::uuid[])`;
      expect(rows.filter((r) => r.publishedAt !== null)).toHaveLength(3);
      const since = statements.slice(before).filter((verb) => verb !== "select");
      expect(since.filter((verb) => verb === "update")).toHaveLength(1);
      // the mark recorded when each was sent, not when it was marked
      const publishedAt = ids.map((id) =>
        Date.parse(rows.find((r) => r.id === id)?.publishedAt ?? ""),
      );
      expect(publishedAt[0]).toBeLessThan(publishedAt[2] ?? 0);
      publishedAt.forEach((at, i) => {
        expect(at).toBeLessThanOrEqual(sent[i] ?? 0);
      });
    } finally {
      await relay.stop();
      await sql.end({ timeout: 1 });
    }
  });

  it("leaves a row re-sent while its mark waits unpublished, so the re-send goes out", async () => {
    const { sql, relay, close } = laneRelay({ markDelayMs: 60_000 });
    const resender = await fx.sql.reserve();
    let other: ReturnType<typeof startOutboxRelay> | undefined;
    try {
      const cause = uuidv7();
      const [event] = await inTransaction(sql, "test.append", (tx) =>
        appendToOutbox(tx, fx.namespace, [
          {
            type: "checkout.requested",
            data: requestedData(),
            correlationId: "marks-resend",
            causationId: cause,
          },
        ]),
      );
      await waitFor(async () => (await lastMsgId()) === event?.id, { what: "the publish" });
      // a duplicate of its cause arrives while the mark waits: the row is only leased
      await resender`begin`;
      expect(await resendOutputsOf(resender as unknown as typeof fx.sql, [cause])).toBe(1);
      // the stopping relay's mark meets the re-send's uncommitted row and waits for it
      const stopping = relay.stop();
      await waitFor(
        async () =>
          (
            await fx.sql`select 1 from pg_stat_activity
                         where wait_event_type = 'Lock' and query like 'update outbox o set published_at%'`
          ).length > 0,
        { what: "the mark waiting on the re-sent row" },
      );
      await resender`commit`;
      await stopping;
      expect(await outboxRow(event?.id)).toMatchObject({ publishedAt: null, lockedUntil: null });
      other = startOutboxRelay({ ...fx.consumerDeps });
      await waitFor(async () => (await lastMsgId()) === `${event?.id}:1`, {
        what: "the re-send under a fresh Nats-Msg-Id",
      });
      await waitFor(async () => (await outboxRow(event?.id))?.publishedAt != null, {
        what: "the re-sent row marked",
      });
    } finally {
      resender.release();
      await close();
      await other?.stop();
    }
  });

  it("marks more than one statement takes without waiting for another publish", async () => {
    const { sql, close } = laneRelay({ batchSize: 1_500, markDelayMs: 100 });
    try {
      const events = await inTransaction(sql, "test.append", (tx) =>
        appendToOutbox(
          tx,
          fx.namespace,
          Array.from({ length: 1_200 }, (_, i) => ({
            type: "checkout.requested" as const,
            data: requestedData(),
            correlationId: `marks-many-${i}`,
          })),
        ),
      );
      const ids = events.map((e) => e.id);
      // 1,000 in the first statement; the other 200 well before their 30 s lease runs out
      await waitFor(async () => (await markedOf(ids)) === 1_200, { what: "all 1,200 rows marked" });
    } finally {
      await close();
    }
  });

  it("marks its rows once a mark that failed once is tried again, publishing nothing twice", async () => {
    // a transient fault in the first mark only: sequences ignore the rollback the raise causes
    await fx.sql.unsafe(`
      create sequence mark_faults;
      create function fail_first_mark() returns trigger language plpgsql as $$
      begin
        if nextval('mark_faults') = 1 then raise exception 'injected mark fault'; end if;
        return new;
      end $$;
      create trigger fail_first_mark before update of published_at on outbox
        for each row when (old.published_at is null and new.published_at is not null)
        execute function fail_first_mark();`);
    const { sql, close } = laneRelay({ markDelayMs: 50 });
    try {
      const before = await streamMessages();
      const events = await inTransaction(sql, "test.append", (tx) =>
        appendToOutbox(tx, fx.namespace, threeRequests("marks-fault")),
      );
      const ids = events.map((e) => e.id);
      await waitFor(async () => (await markedOf(ids)) === 3, { what: "the three rows marked" });
      const [fault] = await fx.sql`select last_value from mark_faults`;
      expect(Number(fault?.last_value)).toBeGreaterThanOrEqual(2); // it failed, then went through
      expect(await streamMessages()).toBe(before + 3);
      const rows = await fx.sql`select attempts from outbox where id = any(${ids}::uuid[])`;
      expect(rows.map((r) => r.attempts)).toEqual([1, 1, 1]);
    } finally {
      await close();
      await fx.sql.unsafe(`
        drop trigger fail_first_mark on outbox;
        drop function fail_first_mark();
        drop sequence mark_faults;`);
    }
  });

  it("marks what it published before it stops, without waiting out the delay", async () => {
    const { sql, relay, close } = laneRelay({ markDelayMs: 60_000 });
    try {
      const [event] = await inTransaction(sql, "test.append", (tx) =>
        appendToOutbox(tx, fx.namespace, [
          { type: "checkout.requested", data: requestedData(), correlationId: "marks-stop" },
        ]),
      );
      await waitFor(async () => (await lastMsgId()) === event?.id, { what: "the publish" });
      expect((await outboxRow(event?.id))?.publishedAt).toBeNull();
      const stopping = Date.now();
      await relay.stop();
      expect(Date.now() - stopping).toBeLessThan(10_000);
      expect(await outboxRow(event?.id)).toMatchObject({ lockedUntil: null, attempts: 1 });
      expect((await outboxRow(event?.id))?.publishedAt).not.toBeNull();
    } finally {
      await close();
    }
  });

  it("gives a stopped relay's rows back to every relay's claim instead of waiting out their lease", async () => {
    const sql = postgres(fx.databaseUrl, { max: 2, onnotice: () => {} });
    const stopping = startOutboxRelay({ ...fx.consumerDeps, sql, leaseSeconds: 600 });
    let other: ReturnType<typeof startOutboxRelay> | undefined;
    try {
      const [event] = await inTransaction(sql, "test.append", async (tx) => {
        const appended = await appendToOutbox(tx, fx.namespace, [
          { type: "checkout.requested", data: requestedData(), correlationId: "lane-2" },
        ]);
        await stopping.stop(); // before the commit hands the row over
        return appended;
      });
      await waitFor(async () => (await outboxRow(event?.id))?.lockedUntil === null, {
        what: "the lease given back",
      });
      other = startOutboxRelay({ ...fx.consumerDeps });
      await waitFor(async () => (await outboxRow(event?.id))?.publishedAt != null, {
        what: "another relay publishing the row",
      });
      expect((await outboxRow(event?.id))?.attempts).toBe(2);
    } finally {
      await stopping.stop();
      await other?.stop();
      await sql.end({ timeout: 1 });
    }
  });

  it("publishes a row whose lane never took it (its process died) once the lease runs out", async () => {
    const sql = postgres(fx.databaseUrl, { max: 2, onnotice: () => {} });
    const dead = addOutboxLane(sql, { leaseSeconds: 2, take: () => {} });
    const relay = startOutboxRelay({ ...fx.consumerDeps, pollMs: 200 });
    try {
      const committedAt = Date.now();
      const [event] = await inTransaction(sql, "test.append", (tx) =>
        appendToOutbox(tx, fx.namespace, [
          { type: "checkout.requested", data: requestedData(), correlationId: "lane-3" },
        ]),
      );
      expect(await outboxRow(event?.id)).toMatchObject({ publishedAt: null, attempts: 1 });
      await waitFor(async () => (await outboxRow(event?.id))?.publishedAt != null, {
        what: "the row published after its lease",
      });
      // not before the lease ran out: the lane's lease kept every claim away
      expect(Date.now() - committedAt).toBeGreaterThanOrEqual(1_900);
      expect((await outboxRow(event?.id))?.attempts).toBe(2);
    } finally {
      dead();
      await relay.stop();
      await sql.end({ timeout: 1 });
    }
  });
});
