import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { migrateDatabase } from "../db.ts";

export const TEST_PG_URL =
  process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

const urlFor = (name: string) => {
  const url = new URL(TEST_PG_URL);
  url.pathname = `/${name}`;
  return url.toString();
};

export const templateName = (service: string) => `codflow_tmpl_${service}`;

/** Migrates a service's template database once per test run (vitest globalSetup). */
export async function prepareTemplate(service: string, migrationsFolder: string) {
  const admin = postgres(TEST_PG_URL, { max: 1, onnotice: () => {} });
  try {
    const name = templateName(service);
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await migrateDatabase(urlFor(name), migrationsFolder);
  } finally {
    await admin.end();
  }
}

/**
 * A database of this test file's own, copied from the migrated template (fast: no migrations
 * per file). `drop()` removes it; call it in afterAll.
 */
export async function createTestDatabase(service: string) {
  const name = `codflow_test_${service}_${randomBytes(5).toString("hex")}`;
  const admin = postgres(TEST_PG_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}" template "${templateName(service)}"`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: urlFor(name),
    drop: async () => {
      const sql = postgres(TEST_PG_URL, { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await sql.end();
      }
    },
  };
}
