import { spawn } from "node:child_process";
import { once } from "node:events";
import type { ScriptLogger } from "./output.ts";
import { linePrefix, pipeLines } from "./output.ts";
import { postgresAdminUrl, provisionServiceDatabases } from "./provision.ts";
import {
  databaseUrlFor,
  REPO_ROOT,
  redactUrl,
  SERVICES,
  type ServiceName,
  serviceDir,
  serviceEnv,
  servicesMissing,
} from "./services.ts";

export class MigrationFailed extends Error {
  override name = "MigrationFailed";
}

export interface MigrateOptions {
  env: NodeJS.ProcessEnv;
  log: ScriptLogger;
  root?: string;
  services?: readonly ServiceName[];
}

/**
 * Gives each service its own role and database (as POSTGRES_ADMIN_URL, see provision.ts), then
 * runs each service's `src/migrate.ts` in turn as that role (`node --import tsx`, in the
 * service's folder, with its `DATABASE_URL` from `<SERVICE>_DATABASE_URL`). Stops at the first
 * failure.
 */
export async function migrateAll({
  env,
  log,
  root = REPO_ROOT,
  services = SERVICES.map((s) => s.name),
}: MigrateOptions): Promise<void> {
  const missing = servicesMissing("src/migrate.ts", services, root);
  if (missing.length > 0) {
    throw new MigrationFailed(
      `no src/migrate.ts in ${missing.map((name) => `services/${name}`).join(", ")}`,
    );
  }
  await provisionServiceDatabases({
    adminUrl: postgresAdminUrl(env),
    databases: services.map((service) => ({ service, url: databaseUrlFor(service, env) })),
    log,
  });
  const width = Math.max(...services.map((name) => `migrate ${name}`.length));
  for (const [index, name] of services.entries()) {
    const started = Date.now();
    log.info(`migrating ${name} → ${redactUrl(databaseUrlFor(name, env))}`);
    const child = spawn(process.execPath, ["--import", "tsx", "src/migrate.ts"], {
      cwd: serviceDir(name, root),
      env: serviceEnv(name, env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    const prefix = linePrefix(`migrate ${name}`, index, width);
    if (child.stdout) pipeLines(child.stdout, prefix, process.stdout);
    if (child.stderr) pipeLines(child.stderr, prefix, process.stderr);
    const [code, signal] = (await once(child, "close")) as [number | null, NodeJS.Signals | null];
    if (code !== 0) {
      throw new MigrationFailed(
        `migrating ${name} failed: services/${name}/src/migrate.ts ${
          signal ? `was killed by ${signal}` : `exited with code ${code}`
        } (its output is above)`,
      );
    }
    log.info(`migrated ${name} in ${Date.now() - started} ms`);
  }
}
