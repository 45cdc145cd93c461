import { spawn } from "node:child_process";
import {
  connectBroker,
  connectPostgres,
  createLogger,
  STREAM_CONTEXTS,
  socketDirectoryOf,
  streamName,
} from "@codflow/shared";
import type { SystemDatabases } from "../../test/support/invariants.ts";
import type { MailCounts } from "./mail.ts";
import { readStat } from "./proc.ts";

/** Counters read before and after a run: PostgreSQL commits, JetStream messages, pgbench. */

/** The four databases' names. */
export const databaseNames = (dbs: SystemDatabases) =>
  Object.values(dbs).map((url) => decodeURIComponent(new URL(url).pathname.slice(1)));

/** Committed transactions so far in the four databases (pg_stat_database.xact_commit). */
export async function commitsSoFar(adminUrl: string, dbs: SystemDatabases): Promise<number> {
  const sql = connectPostgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ n: string }[]>`
      select coalesce(sum(xact_commit), 0)::text as n from pg_stat_database
      where datname = any(${databaseNames(dbs)})`;
    return Number(row?.n ?? 0);
  } finally {
    await sql.end();
  }
}

/** How often the bench re-analyzes its databases when the server's autovacuum is off. */
export const ANALYZE_EVERY_MS = 30_000;

/**
 * Gives the bench's new databases the planner statistics a production database has: `analyze`
 * now (after seeding), and, when this server's autovacuum is off (some CI machines turn it off),
 * again every 30 s until `stop`, as autovacuum's analyze would as the tables grow. A table
 * created empty and never analyzed makes the planner guess ten pages, so the generic plan a
 * service's prepared statement settles on during the warm-up seq-scans the outbox for
 * `id = any($1)` and keeps doing so as the table grows; no one replaces it but an analyze.
 * PostgreSQL spent 24.3 CPU s on 9,000 orders that way, 18.9 s after one analyze. Vacuuming
 * every 10 s was tried too: its own transactions raised the commits per order (2.7 → 3.1) and it
 * saved no CPU over analyzing.
 */
export async function analyzeDatabases(
  dbs: SystemDatabases,
  onError: (error: Error) => void,
): Promise<{ autovacuum: boolean; stop(): Promise<void> }> {
  const clients = Object.values(dbs).map((url) =>
    connectPostgres(url, { max: 1, onnotice: () => {} }),
  );
  const analyzeAll = async () => {
    for (const sql of clients) await sql`analyze`;
  };
  let autovacuum = true;
  try {
    await analyzeAll();
    const [row] = clients[0]
      ? await clients[0]<{ setting: string }[]>`
          select setting from pg_settings where name = 'autovacuum'`
      : [];
    autovacuum = row?.setting === "on";
  } catch (error) {
    await Promise.all(clients.map((sql) => sql.end()));
    throw error;
  }
  let stopped = false;
  let round: Promise<void> = Promise.resolve();
  const timer = autovacuum
    ? undefined
    : setInterval(() => {
        round = round.then(() =>
          stopped
            ? undefined
            : analyzeAll().catch((error: Error) => {
                if (!stopped) onError(error);
              }),
        );
      }, ANALYZE_EVERY_MS);
  return {
    autovacuum,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await round;
      await Promise.all(clients.map((sql) => sql.end()));
    },
  };
}

/** Messages ever stored in the namespace's streams (the sum of their last sequence numbers). */
export async function messagesSoFar(natsUrl: string, namespace: string): Promise<number> {
  const broker = await connectBroker({
    url: natsUrl,
    namespace,
    name: "bench-counter",
    logger: createLogger({ service: "bench", level: "silent" }),
  });
  try {
    let total = 0;
    for (const context of STREAM_CONTEXTS) {
      total += (await broker.jsm.streams.info(streamName(namespace, context))).state.last_seq;
    }
    return total;
  } finally {
    await broker.close();
  }
}

/** The pid of the PostgreSQL postmaster serving `adminUrl`, when it runs on this machine. */
export async function postmasterPid(adminUrl: string): Promise<number | undefined> {
  const sql = connectPostgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const backend = row ? readStat(row.pid) : undefined;
    return backend?.ppid;
  } finally {
    await sql.end();
  }
}

/** Parses pgbench's `tps = 1234.5 (without initial connection time)` line. */
export function parsePgbenchTps(output: string): number | undefined {
  const match = /^tps = ([\d.]+) \(without initial connection time\)/m.exec(output);
  return match ? Number(match[1]) : undefined;
}

const run = (command: string, args: string[]) =>
  new Promise<string>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
    });
    child.once("error", reject);
    child.once("close", (code) =>
      code === 0
        ? resolve(output)
        : reject(new Error(`${command} ${args.join(" ")} exited with ${code}:\n${output}`)),
    );
  });

/**
 * This machine's PostgreSQL ceiling: `pgbench -N` (simple updates, no branch-table hot row) for
 * `seconds` with 4 clients on 2 threads, on a scratch database created and dropped here.
 */
export async function pgbenchTps(adminUrl: string, seconds: number): Promise<number> {
  const url = new URL(adminUrl);
  const scratch = `codflow_bench_pgbench_${process.pid}`;
  const connection = [
    "-h",
    socketDirectoryOf(adminUrl) ?? url.hostname,
    "-p",
    url.port || "5432",
    "-U",
    decodeURIComponent(url.username) || "postgres",
  ];
  const admin = connectPostgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists "${scratch}" with (force)`);
    await admin.unsafe(`create database "${scratch}"`);
    await run("pgbench", [...connection, "-i", "-q", scratch]);
    const output = await run("pgbench", [
      ...connection,
      "-N",
      "-T",
      String(seconds),
      "-c",
      "4",
      "-j",
      "2",
      scratch,
    ]);
    const tps = parsePgbenchTps(output);
    if (tps === undefined) throw new Error(`no tps in pgbench's output:\n${output}`);
    return tps;
  } finally {
    await admin.unsafe(`drop database if exists "${scratch}" with (force)`).catch(() => undefined);
    await admin.end();
  }
}

/**
 * Mails against checkouts (one per customer): each confirmed checkout's customer got exactly one
 * confirmation mail and each failed one's exactly one could-not-place mail, and no one got a
 * confirmation without a confirmed order. Returns the violations in words.
 */
export function mailViolations(
  counts: MailCounts,
  checkouts: readonly { email: string; status: string }[],
): string[] {
  const violations: string[] = [];
  const confirmed = new Set<string>();
  for (const c of checkouts) {
    const email = c.email.toLowerCase();
    if (c.status === "confirmed") confirmed.add(email);
    const kind =
      c.status === "confirmed" ? "confirmed" : c.status === "failed" ? "failed" : undefined;
    if (!kind) continue;
    const n = counts[kind][email] ?? 0;
    if (n !== 1) violations.push(`${email} got ${n} ${kind} mails for one ${c.status} checkout`);
  }
  for (const [email, n] of Object.entries(counts.confirmed)) {
    if (!confirmed.has(email))
      violations.push(`${email} got ${n} confirmation mails without a confirmed order`);
  }
  return violations;
}

/** Gauges of a service's /metrics whose names match `names`, summed over label sets. */
export async function scrapeGauges(
  baseUrl: string,
  names: RegExp,
): Promise<Record<string, number>> {
  const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
  const found: Record<string, number> = {};
  for (const line of (await res.text()).split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match || !names.test(match[1] as string)) continue;
    found[match[1] as string] = (found[match[1] as string] ?? 0) + Number(match[2]);
  }
  return found;
}
