import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connectPostgres, deleteNamespaceStreamsAt, migrateDatabase } from "@codflow/shared";
import {
  createTestDatabase,
  freePort,
  MIGRATION_FOLDERS,
  TEST_NATS_URL,
  uniqueNamespace,
  waitFor,
} from "@codflow/shared/testing";
import { type SmsSink, startSmsSink } from "../../scripts/lib/sms-sink.ts";
import type { SystemDatabases } from "./invariants.ts";

export const SERVICES = ["checkout", "inventory", "orders", "notifier"] as const;
export type BackendName = (typeof SERVICES)[number];
export type ServiceName = BackendName | "gateway";

const root = fileURLToPath(new URL("../..", import.meta.url));

interface Running {
  child: ChildProcess;
  exited: Promise<number | null>;
}

interface StackDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export interface StackOptions {
  env?: Record<string, string>;
  /** A broker of the test's own (e.g. `startPrivateNats().url`); the shared one by default. */
  natsUrl?: string;
  /**
   * A PostgreSQL cluster of the test's own (e.g. `startPrivatePostgres().url`): the four
   * databases are created and migrated there instead of copied from the shared templates.
   */
  postgresUrl?: string;
}

/**
 * The real system for an end-to-end test: each service as its own process on its own port and
 * database (copied from the migrated templates, or migrated in `postgresUrl`'s cluster), a
 * private NATS namespace on `natsUrl`, and the gateway in front — driven over HTTP exactly as
 * the storefront would. `kill`/`start` let failure tests stop and restart one process, `pid`
 * lets them signal it (SIGSTOP/SIGCONT); logs go to files under `logDir` for post-mortems.
 * The notifier texts an SMS sink of the stack's own (`sms`), where `verifiedCustomer` reads
 * the one-time codes.
 */
export async function startStack({
  env = {},
  natsUrl = TEST_NATS_URL,
  postgresUrl,
}: StackOptions = {}) {
  const namespace = uniqueNamespace("e2e");
  const sms: SmsSink = await startSmsSink();
  const logDir = mkdtempSync(join(tmpdir(), "codflow-e2e-"));
  const databases = Object.fromEntries(
    await Promise.all(
      SERVICES.map(
        async (s) =>
          [
            s,
            postgresUrl ? await migrateInCluster(postgresUrl, s) : await createTestDatabase(s),
          ] as const,
      ),
    ),
  ) as Record<BackendName, StackDatabase>;
  const ports = Object.fromEntries(
    await Promise.all(
      [...SERVICES, "gateway" as const].map(async (s) => [s, await freePort()] as const),
    ),
  ) as Record<ServiceName, number>;
  const url = (s: ServiceName) => `http://127.0.0.1:${ports[s]}`;
  const processes = new Map<ServiceName, Running>();
  const unexpectedExits: string[] = [];

  const envFor = (service: ServiceName): NodeJS.ProcessEnv => ({
    ...process.env,
    NODE_ENV: "test",
    LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? "info",
    NATS_URL: natsUrl,
    NATS_NAMESPACE: namespace,
    PORT: String(ports[service]),
    GATEWAY_PORT: String(ports.gateway),
    ...(service === "gateway" ? {} : { DATABASE_URL: databases[service].url }),
    CHECKOUT_URL: url("checkout"),
    INVENTORY_URL: url("inventory"),
    ORDERS_URL: url("orders"),
    NOTIFIER_URL: url("notifier"),
    SMS_GATEWAY_URL: sms.gatewayUrl,
    // every request of a test comes from 127.0.0.1, and bulk tests verify and check out a few
    // hundred customers at once: the per-IP limits would refuse them (per-customer ones stay)
    RATE_LIMIT_CHECKOUT_PER_IP: "0",
    RATE_LIMIT_OTP_PER_IP: "0",
    ...env,
  });

  const start = async (service: ServiceName) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: join(root, "services", service),
      env: envFor(service),
      stdio: ["ignore", "pipe", "pipe"],
    });
    const log = createWriteStream(join(logDir, `${service}.log`), { flags: "a" });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.once("close", () => log.end());
    const exited = new Promise<number | null>((resolve) =>
      child.once("exit", (code, signal) => {
        if (processes.get(service)?.child === child) {
          processes.delete(service);
          unexpectedExits.push(`${service} exited by itself (${signal ?? `code ${code}`})`);
        }
        resolve(code);
      }),
    );
    processes.set(service, { child, exited });
    await waitFor(
      async () => {
        if (child.exitCode !== null)
          throw new Error(`${service} exited with ${child.exitCode}; see ${logDir}`);
        return (await fetch(`${url(service)}/readyz`)).ok;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: `${service} ready (logs in ${logDir})` },
    );
  };

  /** Sends `signal` and waits for the exit; a SIGSTOPped process is continued so it can obey. */
  const kill = async (service: ServiceName, signal: NodeJS.Signals = "SIGTERM") => {
    const running = processes.get(service);
    if (!running) return null;
    processes.delete(service);
    running.child.kill(signal);
    if (signal !== "SIGKILL") running.child.kill("SIGCONT");
    return running.exited;
  };

  /** The OS process id of a running service, for `process.kill(pid, "SIGSTOP")`. */
  const pid = (service: ServiceName) => {
    const found = processes.get(service)?.child.pid;
    if (found === undefined) throw new Error(`${service} is not running`);
    return found;
  };

  const stop = async () => {
    await Promise.all([...processes.keys()].map((s) => kill(s)));
    await Promise.all(Object.values(databases).map((d) => d.drop()));
    // a test's private broker may be gone already, and its streams with it
    await deleteNamespaceStreamsAt(natsUrl, namespace).catch(() => {});
    await sms.close();
  };

  try {
    await Promise.all(SERVICES.map(start));
    await start("gateway");
  } catch (err) {
    await stop();
    throw err;
  }

  const databaseUrls: SystemDatabases = {
    checkout: databases.checkout.url,
    inventory: databases.inventory.url,
    orders: databases.orders.url,
    notifier: databases.notifier.url,
  };

  return {
    namespace,
    natsUrl,
    databases,
    databaseUrls,
    ports,
    url,
    gatewayUrl: url("gateway"),
    sms,
    logDir,
    start,
    kill,
    pid,
    /** Services that exited without being told to (a crash the test did not inject), in words. */
    unexpectedExits: () => [...unexpectedExits],
    stop,
  };
}

export type Stack = Awaited<ReturnType<typeof startStack>>;

/** Creates and migrates one service's database in a cluster of the test's own. */
async function migrateInCluster(clusterUrl: string, service: BackendName): Promise<StackDatabase> {
  const name = `codflow_${service}_${randomBytes(5).toString("hex")}`;
  const target = new URL(clusterUrl);
  target.pathname = `/${name}`;
  await migrateDatabase(target.toString(), MIGRATION_FOLDERS[service] as string);
  return {
    name,
    url: target.toString(),
    drop: async () => {
      const admin = connectPostgres(clusterUrl, { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await admin.end();
      }
    },
  };
}
