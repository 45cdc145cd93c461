import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { deleteNamespaceStreamsAt } from "@codflow/shared";
import {
  freePort,
  TEST_NATS_URL,
  TEST_PG_URL,
  uniqueNamespace,
  waitFor,
} from "@codflow/shared/testing";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrateAll } from "../../scripts/lib/migrations.ts";
import type { ScriptLogger } from "../../scripts/lib/output.ts";
import { provisionServiceDatabases } from "../../scripts/lib/provision.ts";

// Roles are cluster-wide: every name carries this run's suffix, and afterAll drops them all.
const suffix = randomBytes(4).toString("hex");
const names = (service: string) => ({
  role: `codflow_${service}_${suffix}`,
  database: `codflow_${service}_${suffix}`,
});
const checkout = names("checkout");
const orders = names("orders");
const legacy = names("legacy");

const serviceUrl = (role: string, database: string, password = "") => {
  const url = new URL(TEST_PG_URL);
  url.username = role;
  url.password = password;
  url.pathname = `/${database}`;
  return url.toString();
};
const adminIn = (database: string) => {
  const url = new URL(TEST_PG_URL);
  url.pathname = `/${database}`;
  return postgres(url.toString(), { max: 1, onnotice: () => {} });
};

async function queryAs(url: string, query: string) {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    return await sql.unsafe(query);
  } finally {
    await sql.end();
  }
}

const quiet: ScriptLogger = { info: () => {}, warn: () => {}, error: () => {} };

const databases = [
  { service: "checkout", url: serviceUrl(checkout.role, checkout.database) },
  { service: "orders", url: serviceUrl(orders.role, orders.database) },
];

beforeAll(async () => {
  await provisionServiceDatabases({ adminUrl: TEST_PG_URL, databases });
});

afterAll(async () => {
  const admin = adminIn("postgres");
  try {
    for (const { database } of [checkout, orders, legacy])
      await admin.unsafe(`drop database if exists "${database}" with (force)`);
    for (const { role } of [checkout, orders, legacy])
      await admin.unsafe(`drop role if exists "${role}"`);
  } finally {
    await admin.end();
  }
});

describe("each service's own database role", () => {
  it("connects to its own database, as itself, without any privileged attribute", async () => {
    const [me] = await queryAs(databases[0]?.url as string, "select current_user as role");
    expect(me?.role).toBe(checkout.role);
    const admin = adminIn("postgres");
    try {
      const [attributes] = await admin`
        select rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin
        from pg_roles where rolname = ${checkout.role}`;
      expect(attributes).toEqual({
        rolsuper: false,
        rolcreatedb: false,
        rolcreaterole: false,
        rolreplication: false,
        rolbypassrls: false,
        rolcanlogin: true,
      });
    } finally {
      await admin.end();
    }
  });

  it("is refused at connect time by another service's database", async () => {
    await expect(queryAs(serviceUrl(checkout.role, orders.database), "select 1")).rejects.toThrow(
      /permission denied for database/,
    );
    await expect(queryAs(serviceUrl(orders.role, checkout.database), "select 1")).rejects.toThrow(
      /permission denied for database/,
    );
  });

  it("is idempotent, and sets the password the URL carries", async () => {
    const withPassword = serviceUrl(orders.role, orders.database, "s3cret'pass");
    await provisionServiceDatabases({
      adminUrl: TEST_PG_URL,
      databases: [databases[0] as (typeof databases)[0], { service: "orders", url: withPassword }],
    });
    const admin = adminIn("postgres");
    try {
      const [row] = await admin`select rolpassword from pg_authid where rolname = ${orders.role}`;
      expect(row?.rolpassword).toMatch(/^SCRAM-SHA-256\$/);
    } finally {
      await admin.end();
    }
    expect(await queryAs(withPassword, "select 1 as ok")).toEqual([{ ok: 1 }]);
  });

  it("migrates a service as its role, so the role owns every table it uses", async () => {
    await migrateAll({
      env: {
        ...process.env,
        CHECKOUT_DATABASE_URL: databases[0]?.url,
        POSTGRES_ADMIN_URL: TEST_PG_URL,
      },
      log: quiet,
      services: ["checkout"],
    });
    const owners = await queryAs(
      databases[0]?.url as string,
      `select distinct tableowner as owner from pg_tables where schemaname = 'public'`,
    );
    expect(owners).toEqual([{ owner: checkout.role }]);
  });

  it("starts a service as its role: ready with its database and broker", async () => {
    const port = await freePort();
    const namespace = uniqueNamespace("roles");
    const service = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: fileURLToPath(new URL("../../services/checkout", import.meta.url)),
      env: {
        ...process.env,
        NODE_ENV: "test",
        LOG_LEVEL: "silent",
        PORT: String(port),
        DATABASE_URL: databases[0]?.url,
        NATS_URL: TEST_NATS_URL,
        NATS_NAMESPACE: namespace,
      },
      stdio: "ignore",
    });
    const exited = new Promise((resolve) => service.once("exit", resolve));
    try {
      await waitFor(
        async () => {
          if (service.exitCode !== null) throw new Error(`checkout exited ${service.exitCode}`);
          return fetch(`http://127.0.0.1:${port}/readyz`).then(
            (res) => res.ok,
            () => false,
          );
        },
        { timeoutMs: 30_000, what: "checkout ready as its own role" },
      );
    } finally {
      service.kill("SIGTERM");
      await exited;
      await deleteNamespaceStreamsAt(TEST_NATS_URL, namespace);
    }
  }, 60_000);

  it("hands a database made before its role over to the role, tables and types included", async () => {
    const admin = adminIn("postgres");
    await admin.unsafe(`create database "${legacy.database}"`);
    await admin.end();
    const before = adminIn(legacy.database);
    await before.unsafe(`
      create type mood as enum ('ok', 'not_ok');
      create table things (id bigint generated always as identity primary key, m mood);
      create function touch() returns trigger language plpgsql as 'begin return new; end';`);
    await before.end();

    const url = serviceUrl(legacy.role, legacy.database);
    await provisionServiceDatabases({
      adminUrl: TEST_PG_URL,
      databases: [{ service: "legacy", url }],
    });

    await queryAs(url, "alter table things add column note text");
    await queryAs(url, "alter type mood add value 'meh'");
    await queryAs(
      url,
      "create or replace function touch() returns trigger language plpgsql as 'begin return old; end'",
    );
    expect(await queryAs(url, "insert into things (m) values ('ok') returning id")).toEqual([
      { id: "1" },
    ]);
  });
});
