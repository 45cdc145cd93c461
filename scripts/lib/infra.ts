import { spawn, spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, mkdirSync, readdirSync } from "node:fs";
import { connect } from "node:net";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { socketDirectoryOf } from "@codflow/shared";
import type { ScriptLogger } from "./output.ts";
import { databaseUrlFor, SERVICES } from "./services.ts";
import { waitUntil } from "./wait.ts";

export class InfrastructureMissing extends Error {
  override name = "InfrastructureMissing";
}

/** Whether something accepts TCP connections on host:port. */
export function canConnect(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return canReach({ host, port }, timeoutMs);
}

/** Whether something accepts connections on host:port, or on the Unix-domain socket `path`. */
function canReach(
  to: { host: string; port: number } | { path: string },
  timeoutMs = 1_000,
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(to);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

interface Endpoint {
  host: string;
  port: number;
  /** The Unix-domain socket file, when the URL names a socket directory (`?host=/dir`). */
  path?: string;
  /** Which setting named it, for the message when it is unreachable. */
  source: string;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);
/** On this machine (loopback or a local socket) at the default port: one we may start. */
const isLocalDefault = (e: Endpoint, port: number) =>
  (e.path !== undefined || LOOPBACK.has(e.host)) && e.port === port;
/** host:port, or the socket file. */
export const where = (e: Endpoint) => e.path ?? `${e.host}:${e.port}`;
export const reachable = (e: Endpoint) => canReach(e.path ? { path: e.path } : e);

function endpointOf(url: string, defaultPort: number, source: string): Endpoint {
  const parsed = new URL(url);
  return { host: parsed.hostname || "127.0.0.1", port: Number(parsed.port || defaultPort), source };
}

/** A database URL's endpoint: its PostgreSQL socket file (`<dir>/.s.PGSQL.<port>`) with `?host=/dir`. */
function postgresEndpointOf(url: string, source: string): Endpoint {
  const endpoint = endpointOf(url, 5432, source);
  const directory = socketDirectoryOf(url);
  return directory ? { ...endpoint, path: join(directory, `.s.PGSQL.${endpoint.port}`) } : endpoint;
}

function distinct(endpoints: Endpoint[]): Endpoint[] {
  const seen = new Map<string, Endpoint>();
  for (const e of endpoints) if (!seen.has(where(e))) seen.set(where(e), e);
  return [...seen.values()];
}

/** Every PostgreSQL server the services' database URLs point at. */
export function postgresEndpoints(env: NodeJS.ProcessEnv): Endpoint[] {
  return distinct(
    SERVICES.map(({ name }) =>
      postgresEndpointOf(databaseUrlFor(name, env), `${name.toUpperCase()}_DATABASE_URL`),
    ),
  );
}

/** The NATS server of `NATS_URL` (its first entry when it lists several). */
export function natsEndpoint(env: NodeJS.ProcessEnv): Endpoint {
  const first = (env.NATS_URL || "nats://127.0.0.1:4222").split(",")[0]?.trim() ?? "";
  return endpointOf(first.includes("://") ? first : `nats://${first}`, 4222, "NATS_URL");
}

function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin"];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory; try the next
    }
  }
  return undefined;
}

const sudo = process.getuid?.() === 0 ? "" : "sudo ";

/**
 * Makes sure every PostgreSQL the services use accepts connections. The local default server
 * (127.0.0.1:5432) is started with pg_ctlcluster when it is installed but stopped.
 */
export async function ensurePostgres(env: NodeJS.ProcessEnv, log: ScriptLogger): Promise<void> {
  for (const endpoint of postgresEndpoints(env)) {
    const { source } = endpoint;
    const at = where(endpoint);
    if (await reachable(endpoint)) continue;
    if (!isLocalDefault(endpoint, 5432)) {
      throw new InfrastructureMissing(
        `PostgreSQL at ${at} (from ${source}) does not accept connections`,
      );
    }
    const versions = existsSync("/etc/postgresql")
      ? readdirSync("/etc/postgresql").sort((a, b) => Number(b) - Number(a))
      : [];
    const pgCtlCluster = findExecutable("pg_ctlcluster");
    if (!pgCtlCluster || versions.length === 0) {
      throw new InfrastructureMissing(
        `PostgreSQL is not running on ${at} and is not installed. Install it with:\n` +
          `  ${sudo}apt-get update && ${sudo}apt-get install -y postgresql postgresql-contrib`,
      );
    }
    const version = versions[0] as string;
    log.info(`PostgreSQL is not running; starting cluster ${version}/main with pg_ctlcluster`);
    const started = spawnSync(
      pgCtlCluster,
      ["--skip-systemctl-redirect", version, "main", "start"],
      { stdio: "inherit" },
    );
    if (started.status !== 0) {
      throw new InfrastructureMissing(
        `could not start PostgreSQL: pg_ctlcluster ${version} main start exited with ${started.status}`,
      );
    }
    await waitUntil(`PostgreSQL on ${at}`, () => reachable(endpoint), 30_000);
    log.info(`PostgreSQL ${version} is up on ${at}`);
  }
}

/**
 * Makes sure NATS accepts connections. The local default server (127.0.0.1:4222) is started,
 * with JetStream, when nats-server is installed; it keeps running after this process exits.
 */
export async function ensureNats(env: NodeJS.ProcessEnv, log: ScriptLogger): Promise<void> {
  const endpoint = natsEndpoint(env);
  const { host, port, source } = endpoint;
  if (await canConnect(host, port)) return;
  if (!isLocalDefault(endpoint, 4222)) {
    throw new InfrastructureMissing(
      `NATS at ${host}:${port} (from ${source}) does not accept connections`,
    );
  }
  const natsServer = findExecutable("nats-server");
  if (!natsServer) {
    throw new InfrastructureMissing(
      `NATS is not running on ${host}:${port} and nats-server is not installed. Install it with:\n` +
        `  ${sudo}apt-get update && ${sudo}apt-get install -y nats-server`,
    );
  }
  const dataDir = join(homedir(), ".local", "share", "codflow", "nats");
  mkdirSync(dataDir, { recursive: true });
  const logFile = join(dataDir, "nats-server.log");
  const child = spawn(
    natsServer,
    ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dataDir, "-l", logFile],
    { detached: true, stdio: "ignore" },
  );
  child.unref();
  log.info(`NATS is not running; started nats-server (pid ${child.pid}, JetStream in ${dataDir})`);
  await waitUntil(
    `nats-server on ${host}:${port} (its log: ${logFile})`,
    () => {
      if (child.exitCode !== null) {
        throw new InfrastructureMissing(
          `nats-server exited with code ${child.exitCode}; see ${logFile}`,
        );
      }
      return canConnect(host, port);
    },
    30_000,
  );
  log.info(
    `NATS is up on ${host}:${port}; it keeps running after codflow stops (kill ${child.pid})`,
  );
}
