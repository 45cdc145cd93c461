import { connect, createServer, type Server, type Socket } from "node:net";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { createTestDatabase, freePort, TEST_PG_URL, waitFor } from "../src/testing/index.ts";

/**
 * Regression tests for the patched postgres.js (patches/postgres@3.4.9.patch). Its bugs show
 * under load only by chance; here they are made to happen at will.
 */
describe("postgres.js as patched", () => {
  it("reserves the connection of a sql.begin whose BEGIN fills the pipeline (porsager/postgres #823, #1189)", async () => {
    // max_pipeline 0: every BEGIN is at the pipeline boundary, which under load happens by chance
    // (seen as a 500 UNSAFE_TRANSACTION from POST /v1/checkouts at 200 checkouts/s)
    // max_pipeline is a real option that postgres.js's types leave out
    const options = { max: 2, max_pipeline: 0, onnotice: () => {} } as postgres.Options<
      Record<string, postgres.PostgresType>
    >;
    const sql = postgres(TEST_PG_URL, options);
    try {
      const results = await Promise.allSettled(
        Array.from({ length: 4 }, () =>
          sql.begin(async (tx) => {
            const [first] = await tx<{ xid: string }[]>`select txid_current()::text as xid`;
            const [second] = await tx<{ xid: string }[]>`select txid_current()::text as xid`;
            return first?.xid !== undefined && first.xid === second?.xid;
          }),
        ),
      );
      expect(results.map((r) => (r.status === "fulfilled" ? r.value : String(r.reason)))).toEqual([
        true,
        true,
        true,
        true,
      ]);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  it("fails only the waiting query when a new connection dies fetching array types and cannot reconnect (porsager/postgres #1192, #1223)", async () => {
    // a PostgreSQL restart did this to orders in a CI run: the connection died at its first
    // statement, the reconnect met ECONNREFUSED, and the driver rejected its own types query
    // with nobody listening — an unhandled rejection, which ends a Node process
    const proxy = await killingProxy({ refuse: true });
    const sql = postgres(proxy.url, { max: 1, connect_timeout: 5, onnotice: () => {} });
    try {
      const unhandled = await unhandledRejectionsDuring(async () => {
        await expect(sql`select 1 as one`).rejects.toThrow(/ECONNREFUSED/);
      });
      expect(proxy.killed()).toBe(true);
      expect(unhandled).toEqual([]);
      await proxy.listen();
      expect(await sql`select 1 as one`).toEqual([{ one: 1 }]);
    } finally {
      await sql.end({ timeout: 5 });
      await proxy.close();
    }
  });

  it("runs the waiting query on the new connection when one dies fetching array types (porsager/postgres #1223)", async () => {
    // unpatched, the dead connection's 57P01 was replayed onto the first query of the next one
    const proxy = await killingProxy({ refuse: false });
    const sql = postgres(proxy.url, { max: 1, connect_timeout: 5, onnotice: () => {} });
    try {
      const unhandled = await unhandledRejectionsDuring(async () => {
        expect(await sql`select 1 as one`).toEqual([{ one: 1 }]);
      });
      expect(proxy.killed()).toBe(true);
      expect(unhandled).toEqual([]);
      // the array types came with the new connection: an array parameter round-trips
      expect(await sql`select ${[1, 2]}::int[] as xs`).toEqual([{ xs: [1, 2] }]);
    } finally {
      await sql.end({ timeout: 5 });
      await proxy.close();
    }
  });

  it("flushes a reconnected connection's writes when its socket closed with a write pending", async () => {
    // unpatched, the close cancelled the pending flush but kept its bytes and its timer handle:
    // the next connection's startup message was queued behind them and never sent, and the
    // connection timed out (seen as CONNECT_TIMEOUT in orders after a PostgreSQL restart, when
    // another connection's failure made the service issue a query in the same event-loop turn)
    const { sql, sockets } = ownSockets();
    try {
      expect(await sql`select 1 as one`).toEqual([{ one: 1 }]);
      // a query written in a setImmediate callback waits for the next turn's flush; the socket
      // destroyed in the same callback closes in this turn's close phase, before that flush
      const lost = await new Promise<unknown>((resolve) => {
        setImmediate(() => {
          const query = sql`select 2 as two`.then(resolve, resolve);
          queueMicrotask(() => queueMicrotask(() => sockets[0]?.destroy()));
          return query;
        });
      });
      expect(String(lost)).toMatch(/CONNECTION_CLOSED/);
      expect(await sql`select 3 as three`).toEqual([{ three: 3 }]);
      expect(sockets).toHaveLength(2);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  it("never runs a statement of a transaction whose connection died, on the next connection", async () => {
    // unpatched, the transaction's code, still running after its session ended, sent its next
    // statement on the session the pool had opened since: it ran there alone, outside any
    // transaction, and committed — half a transaction
    const db = await createTestDatabase("shared");
    const table = "written_late";
    const admin = postgres(db.url, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create table ${table} (n int)`);
    const { sql, sockets } = ownSockets(db.url);
    try {
      let resume = () => {};
      const paused = new Promise<void>((resolve) => {
        resume = resolve;
      });
      let outcome: Promise<string> | undefined;
      const transaction = sql.begin(async (tx) => {
        await tx`select 1`;
        sockets[0]?.destroy();
        await paused; // the transaction's code goes on after its session has ended
        outcome = tx.unsafe(`insert into ${table} values (1)`).then(
          () => "ran",
          (err: Error) => err.message,
        );
        await outcome;
      });
      await expect(transaction).rejects.toThrow(/CONNECTION_CLOSED/);
      expect(await sql`select 2 as two`).toEqual([{ two: 2 }]); // the pool's next session
      resume();
      await waitFor(() => outcome !== undefined, { timeoutMs: 5000, what: "the late statement" });
      expect(await outcome).toMatch(/CONNECTION_CLOSED/);
      expect(await admin.unsafe(`select count(*)::int as n from ${table}`)).toEqual([{ n: 0 }]);
      expect(await sql`select 3 as three`).toEqual([{ three: 3 }]);
    } finally {
      await sql.end({ timeout: 5 });
      await admin.end({ timeout: 5 });
      await db.drop();
    }
  });

  it("fails a query sent between its connection's socket error and the close", async () => {
    // unpatched, such a query waited on the dead connection, and the next connection's startup
    // answered it: it resolved with no rows though it never ran
    const { sql, sockets } = ownSockets();
    try {
      expect(await sql`select 1 as one`).toEqual([{ one: 1 }]);
      const socket = sockets[0] as Socket;
      const lost = new Promise<unknown>((resolve) => {
        // registered after the driver's own listener: the driver has seen the error
        socket.once("error", () => {
          sql`select 2 as two`.then(resolve, resolve);
        });
      });
      const closed = new Promise((resolve) => socket.once("close", resolve));
      socket.destroy(new Error("reset by the test"));
      await closed;
      expect(await sql`select 3 as three`).toEqual([{ three: 3 }]);
      expect(String(await lost)).toMatch(/CONNECTION_CLOSED/);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });
});

/** A one-connection pool on sockets the test holds, to close them at a chosen moment. */
function ownSockets(url = TEST_PG_URL) {
  const upstream = new URL(url);
  const sockets: Socket[] = [];
  // `socket` is a real option (a function that returns the connection's socket) that
  // postgres.js's types leave out
  const options = {
    max: 1,
    connect_timeout: 3,
    onnotice: () => {},
    socket: () => {
      const socket = connect(Number(upstream.port || 5432), upstream.hostname);
      sockets.push(socket);
      return socket;
    },
  } as postgres.Options<Record<string, postgres.PostgresType>>;
  return { sql: postgres(url, options), sockets };
}

/**
 * A TCP proxy to the test PostgreSQL that kills the first connection when it sends postgres.js's
 * array-types query (the first statement of every new connection), as a server shutting down
 * does: a FATAL 57P01 ErrorResponse, then the socket closes. `refuse` stops listening with it,
 * so the driver's reconnect meets ECONNREFUSED, as while the server is down; `listen` opens the
 * port again.
 */
async function killingProxy({ refuse }: { refuse: boolean }) {
  const upstream = new URL(TEST_PG_URL);
  const port = await freePort();
  let killed = false;
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((client) => {
        const pg = connect(Number(upstream.port || 5432), upstream.hostname);
        for (const s of [client, pg]) {
          sockets.add(s);
          s.on("error", () => {});
          s.on("close", () => sockets.delete(s));
        }
        pg.pipe(client);
        client.on("data", (chunk: Buffer) => {
          if (!killed && chunk.includes("typcategory")) {
            killed = true;
            client.end(adminShutdown(), () => client.destroy());
            pg.destroy();
            if (refuse) server?.close();
            return;
          }
          pg.write(chunk);
        });
        client.on("close", () => pg.destroy());
      });
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
  await listen();
  const url = new URL(TEST_PG_URL);
  url.hostname = "127.0.0.1";
  url.port = String(port);
  return {
    url: url.toString(),
    killed: () => killed,
    listen,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) =>
        server?.listening ? server.close(() => resolve()) : resolve(),
      );
    },
  };
}

/** What PostgreSQL sends a session it terminates at shutdown: ErrorResponse FATAL 57P01. */
function adminShutdown(): Buffer {
  const fields = [
    ["S", "FATAL"],
    ["V", "FATAL"],
    ["C", "57P01"],
    ["M", "terminating connection due to administrator command"],
  ].map(([code, value]) => Buffer.concat([Buffer.from(code as string), Buffer.from(`${value}\0`)]));
  const body = Buffer.concat([...fields, Buffer.from([0])]);
  const length = Buffer.alloc(4);
  length.writeInt32BE(body.length + 4);
  return Buffer.concat([Buffer.from("E"), length, body]);
}

/** Collects the process's unhandled rejections while `fn` runs and a turn after it. */
async function unhandledRejectionsDuring(fn: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const record = (reason: unknown) => seen.push(String((reason as Error)?.message ?? reason));
  process.on("unhandledRejection", record);
  try {
    await fn();
    // rejections are reported once the microtask queue drains: one macrotask later they are in
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off("unhandledRejection", record);
  }
  return seen;
}
