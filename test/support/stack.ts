import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTestDatabase, freePort, uniqueNamespace, waitFor } from "@codflow/shared/testing";

export const SERVICES = ["checkout", "inventory", "orders", "notifier"] as const;
export type ServiceName = (typeof SERVICES)[number] | "gateway";

const root = fileURLToPath(new URL("../..", import.meta.url));

interface Running {
  child: ChildProcess;
  exited: Promise<number | null>;
}

/**
 * The real system for an end-to-end test: each service as its own process on its own port and
 * database (copied from the migrated templates), a private NATS namespace, and the gateway in
 * front — driven over HTTP exactly as the storefront would. `kill`/`start` let failure tests
 * stop and restart one process; logs go to files under `logDir` for post-mortems.
 */
export async function startStack({ env = {} }: { env?: Record<string, string> } = {}) {
  const namespace = uniqueNamespace("e2e");
  const logDir = mkdtempSync(join(tmpdir(), "codflow-e2e-"));
  const databases = Object.fromEntries(
    await Promise.all(SERVICES.map(async (s) => [s, await createTestDatabase(s)] as const)),
  ) as Record<(typeof SERVICES)[number], Awaited<ReturnType<typeof createTestDatabase>>>;
  const ports = Object.fromEntries(
    await Promise.all(
      [...SERVICES, "gateway" as const].map(async (s) => [s, await freePort()] as const),
    ),
  ) as Record<ServiceName, number>;
  const url = (s: ServiceName) => `http://127.0.0.1:${ports[s]}`;
  const processes = new Map<ServiceName, Running>();

  const envFor = (service: ServiceName): NodeJS.ProcessEnv => ({
    ...process.env,
    NODE_ENV: "test",
    LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? "info",
    NATS_NAMESPACE: namespace,
    PORT: String(ports[service]),
    GATEWAY_PORT: String(ports.gateway),
    ...(service === "gateway" ? {} : { DATABASE_URL: databases[service].url }),
    CHECKOUT_URL: url("checkout"),
    INVENTORY_URL: url("inventory"),
    ORDERS_URL: url("orders"),
    NOTIFIER_URL: url("notifier"),
    ...env,
  });

  const start = async (service: ServiceName) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: join(root, "services", service),
      env: envFor(service),
      stdio: ["ignore", "pipe", "pipe"],
    });
    const log = createWriteStream(join(logDir, `${service}.log`), { flags: "a" });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const exited = new Promise<number | null>((resolve) =>
      child.once("exit", (code) => resolve(code)),
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

  const kill = async (service: ServiceName, signal: NodeJS.Signals = "SIGTERM") => {
    const running = processes.get(service);
    if (!running) return null;
    processes.delete(service);
    running.child.kill(signal);
    return running.exited;
  };

  const stop = async () => {
    await Promise.all([...processes.keys()].map((s) => kill(s)));
    await Promise.all(Object.values(databases).map((d) => d.drop()));
  };

  try {
    await Promise.all(SERVICES.map(start));
    await start("gateway");
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    namespace,
    databases,
    ports,
    url,
    gatewayUrl: url("gateway"),
    logDir,
    start,
    kill,
    stop,
  };
}

export type Stack = Awaited<ReturnType<typeof startStack>>;
