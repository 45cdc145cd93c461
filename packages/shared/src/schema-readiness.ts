import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import type { Sql } from "./db.ts";
import type { ReadinessCheck } from "./http/app.ts";

export interface ShippedMigration {
  tag: string;
  /** drizzle-kit's `when`: what drizzle's migrator records as `created_at` once applied. */
  when: number;
}

/** The migrations a build ships, oldest first. */
export interface ShippedMigrations {
  folder: string;
  entries: ShippedMigration[];
  latest: ShippedMigration;
}

const journalSchema = z.object({
  entries: z.array(z.object({ tag: z.string().min(1), when: z.number().int().positive() })).min(1),
});

/**
 * Reads drizzle-kit's `meta/_journal.json` in `folder` (once, at start). A missing or malformed
 * journal throws: a service that cannot tell which schema it needs must not start.
 */
export function readShippedMigrations(folder: string | URL): ShippedMigrations {
  const dir = folder instanceof URL ? fileURLToPath(folder) : folder;
  const path = join(dir, "meta", "_journal.json");
  let journal: unknown;
  try {
    journal = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`cannot read the migrations journal ${path}: ${(err as Error).message}`);
  }
  const parsed = journalSchema.safeParse(journal);
  if (!parsed.success) {
    throw new Error(
      `${path} is not a drizzle-kit journal with at least one migration:\n${z.prettifyError(parsed.error)}`,
    );
  }
  const entries = parsed.data.entries
    .map(({ tag, when }) => ({ tag, when }))
    .sort((a, b) => a.when - b.when);
  return { folder: dir, entries, latest: entries[entries.length - 1] as ShippedMigration };
}

/** undefined_table, invalid_schema_name: drizzle's migrator never ran on this database. */
const MISSING_RELATION = new Set(["42P01", "3F000"]);

/**
 * The newest migration the database has applied (its `when`), or undefined for none, from the
 * table where drizzle's migrator (`migrateDatabase`) records each one.
 */
async function lastAppliedMigration(sql: Sql): Promise<number | undefined> {
  try {
    const [row] = await sql<{ applied: string | null }[]>`
      select max(created_at)::text as applied from drizzle.__drizzle_migrations`;
    return row?.applied ? Number(row.applied) : undefined;
  } catch (err) {
    if (MISSING_RELATION.has((err as { code?: string }).code ?? "")) return undefined;
    throw err;
  }
}

/** `behind: …` in words: where the database is, what the code needs, how many are missing. */
function describeBehind(shipped: ShippedMigrations, applied: number | undefined): string {
  const pending = shipped.entries.filter((m) => applied === undefined || m.when > applied);
  const at =
    applied === undefined
      ? "no migration applied"
      : `database at ${shipped.entries.find((m) => m.when === applied)?.tag ?? `an unknown migration (${applied})`}`;
  const count = `${pending.length} migration${pending.length === 1 ? "" : "s"} to apply`;
  return `behind: ${at}, code needs ${shipped.latest.tag} (${count}; run migrate)`;
}

/**
 * Readiness `schema`: fails with `behind: …` while the database lacks a migration this build
 * ships, so a pod whose migration Job has not run yet gets no traffic. drizzle's migrator applies
 * every shipped migration newer than the newest one recorded, so "newest recorded ≥ newest
 * shipped" is exactly "migrate has nothing to do". A database ahead of the code is ready: during
 * a rolling update the Job migrates before the new pods start while the old ones keep serving.
 * Once current, the answer is kept (a schema does not go back), so a probe costs nothing; while
 * behind, every probe asks again (one indexless `max()` over a handful of rows).
 *
 * @example readiness: [..., schemaReadiness(database.sql, readShippedMigrations(folder))]
 */
export function schemaReadiness(sql: Sql, shipped: ShippedMigrations): ReadinessCheck {
  let current = false;
  return {
    name: "schema",
    async check() {
      if (current) return;
      const applied = await lastAppliedMigration(sql);
      if (applied === undefined || applied < shipped.latest.when) {
        throw new Error(describeBehind(shipped, applied));
      }
      current = true;
    },
  };
}
