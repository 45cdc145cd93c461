import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

export type ServiceName = "checkout" | "inventory" | "orders" | "notifier";

/** The four services, in the order they are migrated and started. */
export const SERVICES: ReadonlyArray<{ name: ServiceName; defaultPort: number }> = [
  { name: "checkout", defaultPort: 8081 },
  { name: "inventory", defaultPort: 8082 },
  { name: "orders", defaultPort: 8083 },
  { name: "notifier", defaultPort: 8084 },
];

export const GATEWAY_DEFAULT_PORT = 8080;

export function serviceDir(name: string, root = REPO_ROOT): string {
  return join(root, "services", name);
}

/**
 * `CHECKOUT_DATABASE_URL`, else the dev-only local default
 * `postgres://codflow_checkout@127.0.0.1:5432/codflow_checkout`: the service's own role (see
 * provision.ts), no password (loopback trust).
 */
export function databaseUrlFor(name: ServiceName, env: NodeJS.ProcessEnv): string {
  return env[`${name.toUpperCase()}_DATABASE_URL`] || devDatabaseUrl(name);
}

export const devDatabaseUrl = (name: string) =>
  `postgres://codflow_${name}@127.0.0.1:5432/codflow_${name}`;

/** `CHECKOUT_PORT`, else the service's default port. */
export function basePortFor(name: string, defaultPort: number, env: NodeJS.ProcessEnv): number {
  const key = `${name.toUpperCase()}_PORT`;
  const raw = env[key];
  if (!raw) return defaultPort;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`${key}=${raw} is not a port number`);
  }
  return port;
}

/**
 * The environment a service process gets: the parent's, plus its own settings under both names
 * (`PORT` and `CHECKOUT_PORT`), since a service reads `CHECKOUT_PORT` before `PORT`.
 */
export function serviceEnv(
  name: ServiceName,
  env: NodeJS.ProcessEnv,
  port?: number,
): NodeJS.ProcessEnv {
  const prefix = name.toUpperCase();
  const databaseUrl = databaseUrlFor(name, env);
  return {
    ...env,
    SERVICE: name,
    DATABASE_URL: databaseUrl,
    [`${prefix}_DATABASE_URL`]: databaseUrl,
    ...(port === undefined ? {} : { PORT: String(port), [`${prefix}_PORT`]: String(port) }),
  };
}

/** Services whose folder lacks `file` (e.g. `src/main.ts`), for a clear message before starting. */
export function servicesMissing(
  file: string,
  names: readonly string[],
  root = REPO_ROOT,
): string[] {
  return names.filter((name) => !existsSync(join(serviceDir(name, root), file)));
}

/** A URL fit to print: the password replaced. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "<unparsable URL>";
  }
}
