import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase, type Database, migrateDatabase } from "./db.ts";
import { createServiceApp } from "./http/app.ts";
import { createLogger } from "./log.ts";
import { createMetrics } from "./metrics.ts";
import { readShippedMigrations, schemaReadiness } from "./schema-readiness.ts";
import { MIGRATION_FOLDERS, TEST_PG_URL } from "./testing/database.ts";

// the messaging tables alone: two migrations, 0000_messaging and 0001_outbox_resends
const shippedFolder = MIGRATION_FOLDERS.shared as string;
const scratch = mkdtempSync(join(tmpdir(), "codflow-schema-readiness-"));

/** A copy of `shippedFolder` named `name`, its journal's entries changed by `edit`. */
function copyWithJournal(name: string, edit: (entries: unknown[]) => unknown[]) {
  const folder = join(scratch, name);
  cpSync(shippedFolder, folder, { recursive: true });
  const journalPath = join(folder, "meta", "_journal.json");
  const journal = JSON.parse(readFileSync(journalPath, "utf8")) as { entries: unknown[] };
  writeFileSync(journalPath, JSON.stringify({ ...journal, entries: edit(journal.entries) }));
  return folder;
}

/** The migrations of an older build: the journal stops before its last migration. */
const olderBuildFolder = () => copyWithJournal("older", (entries) => entries.slice(0, -1));

/** An empty database of this test's own; `drop()` removes it. */
function scratchDatabase() {
  const url = new URL(TEST_PG_URL);
  const name = `codflow_test_schema_${randomBytes(5).toString("hex")}`;
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const admin = postgres(TEST_PG_URL, { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await admin.end();
      }
    },
  };
}

async function readyz(database: Database) {
  const app = createServiceApp({
    service: "schema-test",
    logger: createLogger({ service: "schema-test", level: "silent" }),
    metrics: createMetrics("schema-test"),
    readiness: [schemaReadiness(database.sql, readShippedMigrations(shippedFolder))],
  });
  const res = await app.request("/readyz");
  return { status: res.status, body: (await res.json()) as { checks: Record<string, string> } };
}

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("schema readiness", () => {
  const target = scratchDatabase();
  let database: Database;

  beforeAll(async () => {
    await migrateDatabase(target.url, olderBuildFolder());
    database = createDatabase(target.url, { max: 2 });
  });
  afterAll(async () => {
    await database.close();
    await target.drop();
  });

  it("reports not ready, naming where the database is and what the code needs, until migrate has run", async () => {
    expect(await readyz(database)).toEqual({
      status: 503,
      body: {
        status: "not-ready",
        checks: {
          schema:
            "behind: database at 0000_messaging, code needs 0001_outbox_resends (1 migration to apply; run migrate)",
        },
      },
    });

    await migrateDatabase(target.url, shippedFolder);

    expect(await readyz(database)).toEqual({
      status: 200,
      body: { status: "ready", checks: { schema: "ok" } },
    });
  });

  it("reports a database that migrate never touched as behind by every migration", async () => {
    const empty = scratchDatabase();
    const admin = postgres(TEST_PG_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database "${new URL(empty.url).pathname.slice(1)}"`);
    await admin.end();
    const fresh = createDatabase(empty.url, { max: 1 });
    try {
      expect((await readyz(fresh)).body.checks.schema).toBe(
        "behind: no migration applied, code needs 0001_outbox_resends (2 migrations to apply; run migrate)",
      );
    } finally {
      await fresh.close();
      await empty.drop();
    }
  });

  it("is ready on a database ahead of the code (the old pods of a rolling update)", async () => {
    const older = createDatabase(target.url, { max: 1 });
    try {
      await migrateDatabase(target.url, shippedFolder);
      const check = schemaReadiness(older.sql, readShippedMigrations(olderBuildFolder()));
      await expect(check.check()).resolves.toBeUndefined();
    } finally {
      await older.close();
    }
  });

  it("asks the database no more once the schema is current", async () => {
    const probing = createDatabase(target.url, { max: 1 });
    await migrateDatabase(target.url, shippedFolder);
    const check = schemaReadiness(probing.sql, readShippedMigrations(shippedFolder));
    await check.check();
    await probing.close();
    // a closed pool would reject any query
    await expect(check.check()).resolves.toBeUndefined();
  });
});

describe("readShippedMigrations", () => {
  it("refuses a folder without a journal, naming the file", () => {
    const missing = join(scratch, "missing");
    expect(() => readShippedMigrations(missing)).toThrow(
      `cannot read the migrations journal ${join(missing, "meta", "_journal.json")}`,
    );
  });

  it("refuses a journal without migrations", () => {
    const folder = copyWithJournal("empty-journal", () => []);
    expect(() => readShippedMigrations(folder)).toThrow(
      /is not a drizzle-kit journal with at least one migration/,
    );
  });

  it("takes the newest migration by its time, whatever the journal's order", () => {
    const folder = copyWithJournal("unordered", (entries) => [...entries].reverse());
    expect(readShippedMigrations(new URL(`file://${folder}`)).latest.tag).toBe(
      "0001_outbox_resends",
    );
  });
});
