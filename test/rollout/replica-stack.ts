import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  createTestDatabase,
  freePort,
  TEST_NATS_URL,
  uniqueNamespace,
  waitFor,
} from "@codflow/shared/testing";
import { type MailSink, startMailSink } from "../../scripts/lib/mail-sink.ts";
import { type SmsSink, startSmsSink } from "../../scripts/lib/sms-sink.ts";
import type { SystemDatabases } from "../support/invariants.ts";
import { type BackendName, SERVICES } from "../support/stack.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** The services the gateway routes to (the notifier has no public HTTP). */
const ROUTED = ["checkout", "inventory", "orders"] as const;

interface Running {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** One replica replaced as a Deployment's rolling update does it, with what it took. */
export interface Replacement {
  replica: string;
  /** SIGTERM → exit: the drain delay, then the shutdown steps. */
  stopMs: number;
  exitCode: number | null;
  /** The new process spawned → its /readyz answers 200. */
  startMs: number;
}

export interface ReplicaStackOptions {
  replicas: number;
  /** Settings for every process (services and gateway alike). */
  env?: Record<string, string>;
}

/**
 * The system as `pnpm start --replicas N` runs it, on databases, a NATS namespace and sinks of
 * its own: N processes of each service on ports of their own, and the gateway spreading requests
 * over them. `replace` stops one replica as Kubernetes does (SIGTERM, then waits for its exit)
 * and starts its successor on the same port, waiting for its readiness. Logs go to `logDir`,
 * one file per replica (a successor appends to its predecessor's).
 */
export async function startReplicaStack({ replicas, env = {} }: ReplicaStackOptions) {
  const namespace = uniqueNamespace("rollout");
  const sms: SmsSink = await startSmsSink();
  const mail: MailSink = await startMailSink({ smtpPort: 0, httpPort: 0 });
  const logDir = mkdtempSync(join(tmpdir(), "codflow-rollout-"));
  const databases = Object.fromEntries(
    await Promise.all(SERVICES.map(async (s) => [s, await createTestDatabase(s)] as const)),
  ) as Record<BackendName, Awaited<ReturnType<typeof createTestDatabase>>>;
  const ports = Object.fromEntries(
    await Promise.all(
      SERVICES.map(
        async (s) =>
          [s, await Promise.all(Array.from({ length: replicas }, () => freePort()))] as const,
      ),
    ),
  ) as Record<BackendName, number[]>;
  const gatewayPort = await freePort();
  const urlsOf = (service: BackendName) => ports[service].map((port) => `http://127.0.0.1:${port}`);
  const processes = new Map<string, Running>();
  const unexpectedExits: string[] = [];

  const common: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: "test",
    LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? "info",
    NATS_URL: TEST_NATS_URL,
    NATS_NAMESPACE: namespace,
    SMS_GATEWAY_URL: sms.gatewayUrl,
    SMTP_URL: `smtp://127.0.0.1:${mail.smtpPort}`,
    // every request of the test comes from 127.0.0.1: the per-IP limits would refuse the load
    RATE_LIMIT_CHECKOUT_PER_IP: "0",
    RATE_LIMIT_OTP_PER_IP: "0",
    ...env,
  };

  const launch = (name: string, cwd: string, processEnv: NodeJS.ProcessEnv, readyUrl: string) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd,
      env: processEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const log = createWriteStream(join(logDir, `${name}.log`), { flags: "a" });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.once("close", () => log.end());
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once("exit", (code, signal) => {
        if (processes.get(name)?.child === child) {
          processes.delete(name);
          unexpectedExits.push(`${name} exited by itself (${signal ?? `code ${code}`})`);
        }
        resolve({ code, signal });
      }),
    );
    processes.set(name, { child, exited });
    return waitFor(
      async () => {
        if (child.exitCode !== null)
          throw new Error(`${name} exited with ${child.exitCode}; see ${logDir}`);
        return (await fetch(`${readyUrl}/readyz`)).ok;
      },
      // generous: tsx compiles each process's sources at start, slowly on a busy 2-core machine
      { timeoutMs: 120_000, intervalMs: 50, what: `${name} ready (logs in ${logDir})` },
    );
  };

  const replicaName = (service: BackendName, index: number) => `${service}-${index + 1}`;
  const startReplica = (service: BackendName, index: number) => {
    const port = ports[service][index] as number;
    return launch(
      replicaName(service, index),
      join(root, "services", service),
      { ...common, PORT: String(port), DATABASE_URL: databases[service].url },
      `http://127.0.0.1:${port}`,
    );
  };

  /**
   * SIGTERM to one replica, its exit awaited, its successor started on the same port and
   * awaited until ready: one step of a rolling update with maxSurge 0, maxUnavailable 1.
   */
  const replace = async (service: BackendName, index: number): Promise<Replacement> => {
    const name = replicaName(service, index);
    const running = processes.get(name);
    if (!running) throw new Error(`${name} is not running`);
    processes.delete(name);
    const stopping = performance.now();
    running.child.kill("SIGTERM");
    const { code } = await running.exited;
    const stopMs = performance.now() - stopping;
    const starting = performance.now();
    await startReplica(service, index);
    return { replica: name, stopMs, exitCode: code, startMs: performance.now() - starting };
  };

  const stop = async () => {
    await Promise.all(
      [...processes.entries()].map(async ([name, running]) => {
        processes.delete(name);
        running.child.kill("SIGTERM");
        await running.exited;
      }),
    );
    await Promise.all(Object.values(databases).map((d) => d.drop()));
    await sms.close();
    await mail.close();
  };

  const databaseUrls: SystemDatabases = {
    checkout: databases.checkout.url,
    inventory: databases.inventory.url,
    orders: databases.orders.url,
    notifier: databases.notifier.url,
  };
  try {
    await Promise.all(
      SERVICES.flatMap((service) =>
        Array.from({ length: replicas }, (_, index) => startReplica(service, index)),
      ),
    );
    await launch(
      "gateway",
      join(root, "services", "gateway"),
      {
        ...common,
        GATEWAY_PORT: String(gatewayPort),
        ...Object.fromEntries(
          ROUTED.map((service) => [`${service.toUpperCase()}_URL`, urlsOf(service).join(",")]),
        ),
      },
      `http://127.0.0.1:${gatewayPort}`,
    );
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    namespace,
    natsUrl: TEST_NATS_URL,
    databaseUrls,
    gatewayUrl: `http://127.0.0.1:${gatewayPort}`,
    sms,
    mail,
    logDir,
    replace,
    /** Processes that exited without being told to, in words. */
    unexpectedExits: () => [...unexpectedExits],
    stop,
  };
}

export type ReplicaStack = Awaited<ReturnType<typeof startReplicaStack>>;
