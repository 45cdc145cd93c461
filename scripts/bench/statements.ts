import { connectPostgres } from "@codflow/shared";

/**
 * PostgreSQL's statements during a run, from `pg_stat_statements`: which statements the
 * services ran, how often per order and how long they took. Read as a snapshot before and after
 * the timed phase and diffed (nothing is reset, so other users of the server are untouched).
 * Needs the module preloaded (`shared_preload_libraries = 'pg_stat_statements'` and a restart);
 * the extension itself is created in the admin database when missing.
 */

export interface StatementCounter {
  /** The database the statement ran in. */
  database: string;
  /** Normalised text, parameters as $1, $2, … */
  query: string;
  calls: number;
  totalMs: number;
  rows: number;
}

/** Counters keyed by database and query id. */
export type StatementSnapshot = ReadonlyMap<string, StatementCounter>;

export type StatementsProbe =
  | { available: true; snapshot(): Promise<StatementSnapshot>; close(): Promise<void> }
  | { available: false; reason: string };

export interface TopStatement extends StatementCounter {
  callsPerOrder: number;
  meanMs: number;
  /** Share of the run's statement time. */
  share: number;
}

export interface StatementsReport {
  /** Every statement PostgreSQL ran in the bench's databases (BEGIN and COMMIT too) ÷ orders. */
  statementsPerOrder: number;
  /** Summed execution time ÷ orders (time inside the executor, waits included, not CPU). */
  execMsPerOrder: number;
  /** The `n` statements with the most execution time. */
  top: TopStatement[];
  /** The `n` statements run most often: the round trips per order, BEGIN and COMMIT included. */
  mostCalled: TopStatement[];
}

export const ENABLE_STATEMENTS_HINT =
  "add shared_preload_libraries = 'pg_stat_statements' to postgresql.conf and restart PostgreSQL";

/** Why the statements cannot be counted, from the server's refusal. */
export function unavailableReason(message: string): string {
  return /shared_preload_libraries/.test(message)
    ? `pg_stat_statements is not loaded: ${ENABLE_STATEMENTS_HINT}`
    : `pg_stat_statements cannot be read: ${message}`;
}

/** Opens the probe on `adminUrl` for statements in `databases`, or says why it cannot. */
export async function probeStatements(
  adminUrl: string,
  databases: readonly string[],
): Promise<StatementsProbe> {
  const sql = connectPostgres(adminUrl, { max: 1, onnotice: () => {} });
  const snapshot = async (): Promise<StatementSnapshot> => {
    const rows = await sql<
      {
        database: string;
        queryid: string;
        query: string;
        calls: string;
        total_ms: number;
        rows: string;
      }[]
    >`
      select d.datname as database, s.queryid::text as queryid, min(s.query) as query,
             sum(s.calls)::text as calls, sum(s.total_exec_time)::float8 as total_ms,
             sum(s.rows)::text as rows
      from pg_stat_statements s join pg_database d on d.oid = s.dbid
      where d.datname = any(${databases as string[]})
      group by d.datname, s.queryid`;
    return new Map(
      rows.map((r) => [
        `${r.database}:${r.queryid}`,
        {
          database: r.database,
          query: r.query,
          calls: Number(r.calls),
          totalMs: r.total_ms,
          rows: Number(r.rows),
        },
      ]),
    );
  };
  try {
    await sql`create extension if not exists pg_stat_statements`;
    await snapshot();
  } catch (error) {
    await sql.end();
    return { available: false, reason: unavailableReason((error as Error).message) };
  }
  return { available: true, snapshot, close: () => sql.end() };
}

/**
 * What ran between two snapshots: statements per order, execution time per order, and the `n`
 * statements with the most execution time. A statement first seen in `after` counts whole; one
 * whose counters went down (evicted and re-entered) counts from zero.
 */
export function statementsBetween(
  before: StatementSnapshot,
  after: StatementSnapshot,
  orders: number,
  n = 10,
): StatementsReport {
  const deltas: StatementCounter[] = [];
  for (const [key, now] of after) {
    const then = before.get(key);
    const fresh = !then || then.calls > now.calls;
    const delta = {
      ...now,
      calls: fresh ? now.calls : now.calls - then.calls,
      totalMs: fresh ? now.totalMs : now.totalMs - then.totalMs,
      rows: fresh ? now.rows : now.rows - then.rows,
    };
    if (delta.calls > 0) deltas.push(delta);
  }
  const calls = deltas.reduce((sum, d) => sum + d.calls, 0);
  const totalMs = deltas.reduce((sum, d) => sum + d.totalMs, 0);
  const perOrder = (x: number) => (orders > 0 ? x / orders : Number.NaN);
  const first = (by: (d: StatementCounter) => number) =>
    [...deltas]
      .sort((a, b) => by(b) - by(a))
      .slice(0, n)
      .map((d) => ({
        ...d,
        callsPerOrder: perOrder(d.calls),
        meanMs: d.totalMs / d.calls,
        share: totalMs > 0 ? d.totalMs / totalMs : 0,
      }));
  return {
    statementsPerOrder: perOrder(calls),
    execMsPerOrder: perOrder(totalMs),
    top: first((d) => d.totalMs),
    mostCalled: first((d) => d.calls),
  };
}

/** A statement's text on one line, at most `width` characters. */
export function oneLine(query: string, width: number): string {
  const flat = query.replace(/\s+/g, " ").trim();
  return flat.length <= width ? flat : `${flat.slice(0, width - 1)}…`;
}
