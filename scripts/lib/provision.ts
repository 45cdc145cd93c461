import { connectPostgres, socketDirectoryOf } from "@codflow/shared";
import type postgres from "postgres";
import type { ScriptLogger } from "./output.ts";
import { redactUrl } from "./services.ts";

/**
 * Dev-only default: the local cluster's superuser over loopback (trust auth). Deployments set
 * POSTGRES_ADMIN_URL to a role that may create roles and databases.
 */
export const DEV_POSTGRES_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres";

export const postgresAdminUrl = (env: NodeJS.ProcessEnv) =>
  env.POSTGRES_ADMIN_URL || DEV_POSTGRES_ADMIN_URL;

export class ProvisioningFailed extends Error {
  override name = "ProvisioningFailed";
}

/** A service and the URL it connects with: the URL names its role, password and database. */
export interface ServiceDatabase {
  service: string;
  url: string;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

function identifier(value: string, what: string, source: ServiceDatabase): string {
  if (!IDENTIFIER.test(value)) {
    throw new ProvisioningFailed(
      `${source.service}: the ${what} "${value}" in ${redactUrl(source.url)} must be a lower-case ` +
        "PostgreSQL identifier (letters, digits, _)",
    );
  }
  return `"${value}"`;
}

/** host:port, or socket-directory:port for a URL that names a Unix-domain socket. */
const clusterOf = (url: URL) =>
  `${socketDirectoryOf(url.toString()) ?? url.hostname}:${url.port || "5432"}`;

/**
 * Least privilege per service: for each service a LOGIN role (no superuser, createdb or
 * createrole) that owns the service's database, and `CONNECT`/`TEMPORARY` revoked from PUBLIC on
 * that database, so no other service's role can open it. The role, its password (when the URL
 * has one) and the database come from the service's own DATABASE_URL. Idempotent; a database
 * that existed before its role has everything in it handed over to the role.
 */
export async function provisionServiceDatabases({
  adminUrl,
  databases,
  log,
}: {
  adminUrl: string;
  databases: readonly ServiceDatabase[];
  log?: ScriptLogger;
}): Promise<void> {
  const adminCluster = clusterOf(new URL(adminUrl));
  const admin = connectPostgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    for (const source of databases) {
      const url = new URL(source.url);
      if (clusterOf(url) !== adminCluster) {
        throw new ProvisioningFailed(
          `${source.service}: ${redactUrl(source.url)} is not on the cluster of POSTGRES_ADMIN_URL (${adminCluster})`,
        );
      }
      const roleName = decodeURIComponent(url.username);
      const databaseName = decodeURIComponent(url.pathname.slice(1));
      const role = identifier(roleName, "role", source);
      const database = identifier(databaseName, "database", source);
      await ensureRole(admin, roleName, role, decodeURIComponent(url.password));
      await ensureOwnedDatabase(admin, databaseName, database, role);
      await admin.unsafe(`revoke connect, temporary on database ${database} from public`);
      await handOverObjects(adminUrl, databaseName, roleName);
      log?.info(
        `${source.service}: role ${roleName} owns database ${databaseName}, no one else may connect`,
      );
    }
  } finally {
    await admin.end();
  }
}

/** `duplicate_object` / `unique_violation`: a concurrent provisioner created it first. */
const createdConcurrently = (err: { code?: string }) =>
  err.code === "42710" || err.code === "23505";

async function ensureRole(admin: postgres.Sql, name: string, role: string, password: string) {
  const found = await admin`select 1 from pg_roles where rolname = ${name}`;
  if (found.length === 0) {
    await admin.unsafe(`create role ${role} login`).catch((err) => {
      if (!createdConcurrently(err)) throw err;
    });
  }
  await admin.unsafe(`alter role ${role} login nosuperuser nocreatedb nocreaterole noreplication`);
  if (password)
    await admin.unsafe(`alter role ${role} password '${password.replaceAll("'", "''")}'`);
}

async function ensureOwnedDatabase(
  admin: postgres.Sql,
  name: string,
  database: string,
  role: string,
) {
  const found = await admin`select 1 from pg_database where datname = ${name}`;
  if (found.length === 0) {
    await admin.unsafe(`create database ${database} owner ${role}`).catch((err) => {
      if (err.code !== "42P04") throw err; // created by a concurrent provisioner
    });
  }
  await admin.unsafe(`alter database ${database} owner to ${role}`);
}

/**
 * Schemas, tables, views, sequences, routines and types made before the database had its role
 * (e.g. by an earlier `pnpm migrate` as a superuser) become the role's, so its migrations can
 * alter them. Sequences of serial/identity columns follow their table; extensions' objects stay.
 */
const HAND_OVER = `
do $$
declare
  target text := current_setting('codflow.owner');
  item record;
begin
  for item in
    select nspname from pg_namespace
    where nspname !~ '^pg_' and nspname <> 'information_schema'
      and nspowner not in (to_regrole(target), to_regrole('pg_database_owner'))
  loop
    execute format('alter schema %I owner to %I', item.nspname, target);
  end loop;
  for item in
    select c.oid::regclass as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname !~ '^pg_' and n.nspname <> 'information_schema'
      and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S') and c.relowner <> to_regrole(target)
      and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass
        and d.objid = c.oid and d.deptype in ('a', 'i', 'e'))
  loop
    execute format('alter table %s owner to %I', item.name, target);
  end loop;
  for item in
    select p.oid::regprocedure as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname !~ '^pg_' and n.nspname <> 'information_schema'
      and p.proowner <> to_regrole(target)
      and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass
        and d.objid = p.oid and d.deptype = 'e')
  loop
    execute format('alter routine %s owner to %I', item.name, target);
  end loop;
  for item in
    select t.oid::regtype as name from pg_type t join pg_namespace n on n.oid = t.typnamespace
    where n.nspname !~ '^pg_' and n.nspname <> 'information_schema'
      and t.typtype in ('e', 'd') and t.typowner <> to_regrole(target)
      and not exists (select 1 from pg_depend d where d.classid = 'pg_type'::regclass
        and d.objid = t.oid and d.deptype = 'e')
  loop
    execute format('alter type %s owner to %I', item.name, target);
  end loop;
end $$`;

async function handOverObjects(adminUrl: string, databaseName: string, roleName: string) {
  const url = new URL(adminUrl);
  url.pathname = `/${encodeURIComponent(databaseName)}`;
  const sql = connectPostgres(url.toString(), { max: 1, onnotice: () => {} });
  try {
    await sql.begin(async (tx) => {
      await tx`select set_config('codflow.owner', ${roleName}, true)`;
      await tx.unsafe(HAND_OVER);
    });
  } finally {
    await sql.end();
  }
}
