import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connectPostgres, DEV_JWT_SECRET, deleteNamespaceStreamsAt } from "@codflow/shared";
import { freePort } from "@codflow/shared/testing";
import type { SystemDatabases } from "../../test/support/invariants.ts";
import type { BuiltService } from "../image/build.ts";
import { type BuiltImages, buildImages } from "../image/check.ts";
import { ensureNats, ensurePostgres } from "../lib/infra.ts";
import { migrateAll } from "../lib/migrations.ts";
import type { ScriptLogger } from "../lib/output.ts";
import { postgresAdminUrl } from "../lib/provision.ts";
import {
  databaseUrlFor,
  SERVICES,
  type ServiceName,
  serviceDir,
  serviceEnv,
} from "../lib/services.ts";
import { type SmsInbox, smsSinkClient } from "../lib/sms-sink.ts";
import { type MailCounter, startMailCounter } from "./mail.ts";
import type { Watched } from "./proc.ts";
import { startSmsCodes } from "./sms-codes.ts";

const READY_DEADLINE_MS = 90_000;

/** Preloaded into each process by `--alloc-prof` (plain JavaScript: the built services run it as is). */
const ALLOC_PROFILE_PRELOAD = fileURLToPath(new URL("./alloc-profile.mjs", import.meta.url));

/** The system under test, started by the bench or found at `--url`. */
export interface BenchStack {
  gatewayUrl: string;
  databaseUrls: SystemDatabases;
  natsUrl: string;
  namespace: string;
  /** Whether the bench started it (then it may seed checkout's database directly). */
  owned: boolean;
  /** The service replicas and the gateway (and the SMTP sink), when the bench started them. */
  processes: Watched[];
  /** Each service replica's base URL (for /metrics), when the bench started them. */
  serviceUrls: { label: string; url: string }[];
  /** Where one-time codes arrive. */
  sms: SmsInbox;
  /** The bench's SMTP sink, when the bench started the stack. */
  mail?: MailCounter;
  /** Services that died by themselves, in words. */
  unexpectedExits(): string[];
  stop(): Promise<void>;
}

/**
 * A running stack at `url` (`pnpm start`): its databases, broker namespace and SMS sink from the
 * same settings `pnpm start` reads; its processes are not known to the bench.
 */
export function targetStack(url: string, env: NodeJS.ProcessEnv): BenchStack {
  return {
    gatewayUrl: url.replace(/\/$/, ""),
    databaseUrls: Object.fromEntries(
      SERVICES.map(({ name }) => [name, databaseUrlFor(name, env)]),
    ) as unknown as SystemDatabases,
    natsUrl: env.NATS_URL || "nats://127.0.0.1:4222",
    namespace: env.NATS_NAMESPACE || "codflow",
    owned: false,
    processes: [],
    serviceUrls: [],
    sms: smsSinkClient((env.DEV_SMS_HTTP_URL || "http://127.0.0.1:1090").replace(/\/$/, "")),
    unexpectedExits: () => [],
    stop: async () => {},
  };
}

/** `codflow_bench_<service>`, owned by the service's usual role, on the admin URL's cluster. */
function benchDatabaseUrl(service: ServiceName, env: NodeJS.ProcessEnv): string {
  const url = new URL(postgresAdminUrl(env));
  url.username = `codflow_${service}`;
  url.password = "";
  url.pathname = `/codflow_bench_${service}`;
  return url.toString();
}

/**
 * Starts the stack as `pnpm start` does — PostgreSQL and NATS ensured, migrations, `replicas`
 * processes of each service behind the gateway, per-IP rate limits lifted — but on databases of
 * its own (`codflow_bench_<service>`, dropped and re-migrated each run, so the invariant check
 * reads only this run), a fresh NATS namespace, free ports, the bench's own SMS and SMTP sinks,
 * and each process's log in `logDir` instead of the terminal.
 *
 * With `build`, each process runs as its container image does: the runtime folders are built the
 * way the Dockerfile builds them (`pnpm build`, `pnpm deploy`; scripts/image/check.ts, in a
 * temporary folder removed at stop) and each runs `node dist/main.js` with the image's ENV
 * (NODE_ENV=production) instead of the TypeScript sources under tsx. The settings production
 * requires come from the bench's environment (the JWT secret is the bench's own, the one it signs
 * its tokens with).
 */
export async function startBenchStack({
  replicas,
  build = false,
  profile,
  env: parentEnv,
  log,
  logDir,
}: {
  replicas: number;
  build?: boolean;
  /**
   * Each service and the gateway write a profile into `dir` as they exit: `<label>.cpuprofile`
   * (`node --cpu-prof`) or `<label>.heapprofile` (what they allocated, see alloc-profile.mjs).
   */
  profile?: { kind: "cpu" | "alloc"; dir: string };
  env: NodeJS.ProcessEnv;
  log: ScriptLogger;
  logDir: string;
}): Promise<BenchStack> {
  const env: NodeJS.ProcessEnv = { LOG_LEVEL: "info", ...parentEnv };
  for (const { name } of SERVICES) {
    env[`${name.toUpperCase()}_DATABASE_URL`] = benchDatabaseUrl(name, env);
  }
  // DEV ONLY, as `pnpm start`: all traffic is loopback; per-customer limits stay
  for (const key of ["RATE_LIMIT_CHECKOUT_PER_IP", "RATE_LIMIT_OTP_PER_IP"]) {
    env[key] ||= "0";
  }
  const namespace = `bench_${Date.now().toString(36)}`;
  env.NATS_NAMESPACE = namespace;
  const natsUrl = env.NATS_URL || "nats://127.0.0.1:4222";

  await ensurePostgres(env, log);
  await ensureNats(env, log);
  await dropBenchDatabases(env);
  await migrateAll({ env, log });

  const sms = await startSmsCodes();
  const mail = await startMailCounter();
  env.SMS_GATEWAY_URL = sms.gatewayUrl;
  env.SMTP_URL = mail.smtpUrl;

  let images: BuiltImages | undefined;
  if (build) {
    log.info(
      "building the services' runtime folders as the Dockerfile does (pnpm build, pnpm deploy)…",
    );
    images = await buildImages();
    // production refuses the dev-only defaults: the broker the bench found, and the secret the
    // bench signs its tokens with
    env.NATS_URL = natsUrl;
    env.AUTH_JWT_SECRET ||= DEV_JWT_SECRET;
  }
  const command = (service: string) =>
    images
      ? {
          args: ["dist/main.js"],
          cwd: images.appDir(service as BuiltService),
          env: images.recipe.runtime.env,
        }
      : { args: ["--import", "tsx", "src/main.ts"], cwd: serviceDir(service), env: {} };

  mkdirSync(logDir, { recursive: true });
  if (profile) mkdirSync(profile.dir, { recursive: true });
  const children: { label: string; port: number; child: ChildProcess }[] = [];
  const died: string[] = [];
  let stopping = false;
  const spawnService = (label: string, service: string, port: number, own: NodeJS.ProcessEnv) => {
    const { args, cwd, env: runAs } = command(service);
    // one name per replica for its log and its profile ("checkout#2" → "checkout-2")
    const fileName = label.replace("#", "-");
    const profiling = !profile
      ? { args: [], env: {} }
      : profile.kind === "cpu"
        ? {
            args: [
              "--cpu-prof",
              `--cpu-prof-dir=${profile.dir}`,
              `--cpu-prof-name=${fileName}.cpuprofile`,
            ],
            env: {},
          }
        : {
            args: ["--import", ALLOC_PROFILE_PRELOAD],
            env: { CODFLOW_ALLOC_PROFILE: join(profile.dir, `${fileName}.heapprofile`) },
          };
    const child = spawn(images?.node ?? process.execPath, [...profiling.args, ...args], {
      cwd,
      env: { ...own, ...runAs, ...profiling.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const file = createWriteStream(join(logDir, `${fileName}.log`));
    child.stdout?.pipe(file, { end: false });
    child.stderr?.pipe(file, { end: false });
    child.once("close", () => file.end());
    child.once("exit", (code, signal) => {
      if (!stopping) died.push(`${label} exited by itself (${signal ?? `code ${code}`})`);
    });
    children.push({ label, port, child });
  };

  const upstreams: Record<string, string[]> = {};
  for (const { name } of SERVICES) {
    upstreams[name] = [];
    for (let i = 0; i < replicas; i++) {
      const port = await freePort();
      const label = replicas > 1 ? `${name}#${i + 1}` : name;
      upstreams[name].push(`http://127.0.0.1:${port}`);
      spawnService(label, name, port, serviceEnv(name, env, port));
    }
  }
  const gatewayPort = await freePort();
  spawnService("gateway", "gateway", gatewayPort, {
    ...env,
    SERVICE: "gateway",
    PORT: String(gatewayPort),
    GATEWAY_PORT: String(gatewayPort),
    CHECKOUT_URL: upstreams.checkout?.join(","),
    INVENTORY_URL: upstreams.inventory?.join(","),
    ORDERS_URL: upstreams.orders?.join(","),
  });

  const stop = async () => {
    stopping = true;
    await Promise.all(
      children.map(async ({ child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    await sms.close();
    await mail.close();
    images?.remove();
    await deleteNamespaceStreamsAt(natsUrl, namespace);
  };

  const deadline = Date.now() + READY_DEADLINE_MS;
  for (const { label, port } of children) {
    for (;;) {
      if (died.length > 0) {
        await stop();
        throw new Error(`${died.join("; ")} (logs in ${logDir})`);
      }
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`, {
        signal: AbortSignal.timeout(2_000),
      }).then(
        (res) => res.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) {
        await stop();
        throw new Error(
          `${label} not ready after ${READY_DEADLINE_MS / 1000} s (logs in ${logDir})`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  return {
    gatewayUrl: `http://127.0.0.1:${gatewayPort}`,
    databaseUrls: Object.fromEntries(
      SERVICES.map(({ name }) => [name, databaseUrlFor(name, env)]),
    ) as unknown as SystemDatabases,
    natsUrl,
    namespace,
    owned: true,
    processes: [
      ...children.map(({ label, child }) => ({ label, pid: child.pid as number })),
      { label: "SMTP sink", pid: mail.pid },
    ],
    serviceUrls: children
      .filter(({ label }) => label !== "gateway")
      .map(({ label, port }) => ({ label, url: `http://127.0.0.1:${port}` })),
    sms,
    mail,
    unexpectedExits: () => [...died],
    stop,
  };
}

async function dropBenchDatabases(env: NodeJS.ProcessEnv) {
  const admin = connectPostgres(postgresAdminUrl(env), { max: 1, onnotice: () => {} });
  try {
    for (const { name } of SERVICES) {
      await admin.unsafe(`drop database if exists "codflow_bench_${name}" with (force)`);
    }
  } finally {
    await admin.end();
  }
}
