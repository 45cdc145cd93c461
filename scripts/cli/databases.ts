import { connectPostgres } from "@codflow/shared";
import type postgres from "postgres";

export const BACKENDS = ["checkout", "inventory", "orders", "notifier"] as const;
export type Backend = (typeof BACKENDS)[number];
export type ReadOnlySql = postgres.Sql;

/** The database URL of each service: `<SERVICE>_DATABASE_URL`, or the local default. */
export function databaseUrls(env: NodeJS.ProcessEnv = process.env): Record<Backend, string> {
  return Object.fromEntries(
    BACKENDS.map((s) => [
      s,
      env[`${s.toUpperCase()}_DATABASE_URL`] ||
        `postgres://codflow_${s}@127.0.0.1:5432/codflow_${s}`,
    ]),
  ) as Record<Backend, string>;
}

/** A URL without its password, fit for an error message. */
export function redact(url: string) {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparsable URL)";
  }
}

/**
 * One connection per service database, every transaction read-only (the server refuses writes),
 * each checked with a first query so an unreachable database fails here with its name.
 */
export async function connectReadOnly<S extends Backend>(
  services: readonly S[],
  urls: Record<Backend, string> = databaseUrls(),
): Promise<{ sql: Record<S, ReadOnlySql>; close(): Promise<void> }> {
  const opened: Partial<Record<S, ReadOnlySql>> = {};
  const close = async () => {
    await Promise.all(
      Object.values<ReadOnlySql>(opened as Record<S, ReadOnlySql>).map((c) =>
        c.end({ timeout: 1 }),
      ),
    );
  };
  try {
    await Promise.all(
      services.map(async (service) => {
        const url = urls[service];
        let sql: ReadOnlySql;
        try {
          sql = connectPostgres(url, {
            max: 1,
            connect_timeout: 5,
            idle_timeout: 5,
            onnotice: () => {},
            connection: {
              application_name: "codflow-cli",
              default_transaction_read_only: true,
              // timestamps read as `::text` come back in UTC, e.g. "2026-11-25 14:39:20.123+00"
              TimeZone: "UTC",
            } as Record<string, string | boolean>,
          });
        } catch (err) {
          throw new Error(`bad ${service} database URL ${redact(url)}: ${(err as Error).message}`);
        }
        opened[service] = sql;
        try {
          await sql`select 1`;
        } catch (err) {
          const e = err as Error & { code?: string };
          throw new Error(
            `cannot reach the ${service} database at ${redact(url)}: ${e.message || e.code || String(err)} (set ${service.toUpperCase()}_DATABASE_URL)`,
          );
        }
      }),
    );
  } catch (err) {
    await close();
    throw err;
  }
  return { sql: opened as Record<S, ReadOnlySql>, close };
}
