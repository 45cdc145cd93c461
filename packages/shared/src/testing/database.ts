import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connectPostgres, migrateDatabase } from "../db.ts";

export const TEST_PG_URL =
  process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));

/** The test server's first Unix-socket directory and its port, asked over TCP. */
export async function testServerSocket(): Promise<{ directory: string; port: number }> {
  const sql = connectPostgres(TEST_PG_URL, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ directories: string; port: string }[]>`
      select current_setting('unix_socket_directories') as directories,
             current_setting('port') as port`;
    const directory = row?.directories.split(",")[0]?.trim();
    if (!directory) throw new Error("the test server listens on no Unix socket");
    return { directory, port: Number(row?.port) };
  } finally {
    await sql.end();
  }
}

/** Where each migrated schema lives; "shared" is the messaging tables alone. */
export const MIGRATION_FOLDERS: Record<string, string> = {
  shared: join(repoRoot, "packages/shared/test/migrations"),
  checkout: join(repoRoot, "services/checkout/src/db/migrations"),
  inventory: join(repoRoot, "services/inventory/src/db/migrations"),
  orders: join(repoRoot, "services/orders/src/db/migrations"),
  notifier: join(repoRoot, "services/notifier/src/db/migrations"),
};

const urlFor = (name: string) => {
  const url = new URL(TEST_PG_URL);
  url.pathname = `/${name}`;
  return url.toString();
};

const admin = () => connectPostgres(TEST_PG_URL, { max: 1, onnotice: () => {} });

/**
 * The template's name carries a hash of the migrations, so concurrent test runs share a
 * template safely and a changed migration gets a fresh one; nothing ever drops a template in use.
 */
export function templateName(service: string) {
  const folder = MIGRATION_FOLDERS[service];
  if (!folder) throw new Error(`no migrations known for ${service}`);
  const hash = createHash("sha256");
  for (const file of readdirSync(folder)
    .filter((f) => f.endsWith(".sql"))
    .sort()) {
    hash.update(file).update(readFileSync(join(folder, file)));
  }
  return `codflow_tmpl_${service}_${hash.digest("hex").slice(0, 12)}`;
}

/**
 * Migrates a service's template database once (vitest globalSetup): built under a temporary
 * name and renamed into place, so no test ever copies a half-migrated template.
 */
export async function prepareTemplate(service: string) {
  const name = templateName(service);
  const sql = admin();
  try {
    const exists = await sql`select 1 from pg_database where datname = ${name}`;
    if (exists.length > 0) return;
    const building = `${name}_${randomBytes(3).toString("hex")}`;
    await migrateDatabase(urlFor(building), MIGRATION_FOLDERS[service] as string);
    await sql
      .unsafe(`alter database "${building}" rename to "${name}"`)
      .catch(async (err: { code?: string }) => {
        await sql.unsafe(`drop database if exists "${building}"`);
        if (err.code !== "42P04") throw err; // another run finished the same template first
      });
    const stale = await sql`
      select datname from pg_database
      where datname like ${`codflow_tmpl_${service}_%`} and datname <> ${name}`;
    for (const { datname } of stale)
      await sql.unsafe(`drop database if exists "${datname}"`).catch(() => {});
  } finally {
    await sql.end();
  }
}

/**
 * A database of this test file's own, copied from the migrated template (fast: no migrations
 * per file). `drop()` removes it; call it in afterAll. Test databases are made and used as the
 * superuser of TEST_DATABASE_URL, not as the service's own role: the roles are cluster-wide and
 * provisioned by `pnpm migrate` (scripts/lib/provision.ts, tested in test/security).
 */
export async function createTestDatabase(service: string) {
  const name = `codflow_test_${service}_${randomBytes(5).toString("hex")}`;
  const sql = admin();
  try {
    await sql.unsafe(`create database "${name}" template "${templateName(service)}"`);
  } finally {
    await sql.end();
  }
  return {
    name,
    url: urlFor(name),
    drop: async () => {
      const dropper = admin();
      try {
        await dropper.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await dropper.end();
      }
    },
  };
}
