import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import type { Logger } from "./log.ts";

export type Sql = postgres.Sql;
export type TxSql = postgres.TransactionSql;
export type Db = PostgresJsDatabase;

export interface Database {
  sql: Sql;
  db: Db;
  close(): Promise<void>;
}

/**
 * The directory of the Unix-domain socket `url` names the way libpq does
 * (`postgres://codflow_checkout@localhost/codflow_checkout?host=/var/run/postgresql`), or
 * undefined for a TCP host. postgres.js reads only the URL's authority for the host, and would
 * send a `host` query parameter to the server as a setting, which the server refuses.
 */
export function socketDirectoryOf(url: string): string | undefined {
  const host = new URL(url).searchParams.get("host");
  return host?.startsWith("/") ? host : undefined;
}

/**
 * A postgres.js client for `url`, over the Unix-domain socket when the URL names one (see
 * socketDirectoryOf; the port still picks the socket file, `.s.PGSQL.<port>`). Every client of
 * a configured URL goes through here. A socket skips the TCP stack (pgbench -N: 20-30 % more
 * tps on one 2-core machine), though codflow's bench showed no clear gain from it (README).
 */
export function connectPostgres<T extends Record<string, postgres.PostgresType>>(
  url: string,
  options: postgres.Options<T> = {},
) {
  const directory = socketDirectoryOf(url);
  if (!directory) return postgres<T>(url, options);
  const tcp = new URL(url);
  tcp.searchParams.delete("host");
  return postgres<T>(tcp.toString(), { ...options, host: directory });
}

/**
 * One pool per process; `sql` for prepared hot-path statements, `db` (drizzle) for the rest.
 * drizzle's driver makes the shared client's date and JSON (de)serialisers transparent: `sql`
 * queries return timestamps as Postgres text (`'2026-11-25 13:40:18.245+00'`) and JSON is
 * passed as `${JSON.stringify(value)}::jsonb`. Everything here relies on that one behaviour.
 */
export function createDatabase(
  url: string,
  { max = 8, logger }: { max?: number; logger?: Logger } = {},
): Database {
  const sql = connectPostgres(url, {
    max,
    prepare: true,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: (notice) => logger?.debug({ notice: notice.message }, "postgres notice"),
    types: { bigint: postgres.BigInt },
  });
  return { sql, db: drizzle(sql), close: () => sql.end({ timeout: 5 }) };
}

/** Creates the database named in `url` when it is missing (pnpm start, tests, k8s jobs). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!/^[a-zA-Z0-9_]+$/.test(name))
    throw new Error(`refusing to create database with name "${name}"`);
  const admin = new URL(url);
  admin.pathname = "/postgres";
  const sql = connectPostgres(admin.toString(), { max: 1, onnotice: () => {} });
  try {
    const found = await sql`select 1 from pg_database where datname = ${name}`;
    if (found.length === 0) {
      await sql.unsafe(`create database "${name}"`).catch((err: { code?: string }) => {
        if (err.code !== "42P04") throw err; // created by a concurrent migrator
      });
    }
  } finally {
    await sql.end();
  }
}

/** Applies the committed drizzle-kit migrations in `folder`, creating the database first. */
export async function migrateDatabase(url: string, folder: string): Promise<void> {
  await ensureDatabase(url);
  const sql = connectPostgres(url, { max: 1, onnotice: () => {} });
  try {
    await migrate(drizzle(sql), { migrationsFolder: folder });
  } finally {
    await sql.end();
  }
}
