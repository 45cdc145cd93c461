/**
 * `pnpm migrate`: gives each service its own PostgreSQL role and database (creating them when
 * missing, connected as POSTGRES_ADMIN_URL, dev default postgres://postgres@127.0.0.1:5432/postgres)
 * and applies its migrations as that role, one service after another. A service's database is
 * `<SERVICE>_DATABASE_URL`, else the dev default postgres://codflow_<service>@127.0.0.1:5432/codflow_<service>.
 */
import { postgresEndpoints, reachable, where } from "./lib/infra.ts";
import { migrateAll } from "./lib/migrations.ts";
import { scriptLogger } from "./lib/output.ts";

const log = scriptLogger("migrate");

for (const endpoint of postgresEndpoints(process.env)) {
  if (!(await reachable(endpoint))) {
    log.error(
      `PostgreSQL at ${where(endpoint)} (from ${endpoint.source}) does not accept connections; ` +
        "`pnpm start` starts a local one when it is installed",
    );
    process.exit(1);
  }
}

try {
  const started = Date.now();
  await migrateAll({ env: process.env, log });
  log.info(`all services migrated in ${Date.now() - started} ms`);
} catch (error) {
  log.error((error as Error).message);
  process.exit(1);
}
