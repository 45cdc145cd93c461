/**
 * `pnpm start [--replicas N] [--demo]`: the whole stack on this machine.
 *
 * 1. PostgreSQL and NATS: started when installed but stopped, else the apt-get line to install.
 * 2. Migrations of the four services (as `pnpm migrate`).
 * 3. The dev mail sink (SMTP 1025, HTTP 1080), unless SMTP_URL points elsewhere, and the dev
 *    SMS sink (HTTP 1090), unless SMS_GATEWAY_URL does.
 * 4. The services and the gateway as child processes, `--replicas N` of each service on
 *    ports base+100*i, the gateway spreading requests over them; waits for every /readyz.
 * Ctrl-C (or SIGTERM) stops them all; a child that dies on its own stops everything, exit 1.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { canConnect, ensureNats, ensurePostgres } from "./lib/infra.ts";
import { type MailSink, startMailSink } from "./lib/mail-sink.ts";
import { migrateAll } from "./lib/migrations.ts";
import { bold, green, red, scriptLogger } from "./lib/output.ts";
import {
  basePortFor,
  GATEWAY_DEFAULT_PORT,
  REPO_ROOT,
  SERVICES,
  type ServiceName,
  serviceDir,
  serviceEnv,
  servicesMissing,
} from "./lib/services.ts";
import { type SmsSink, startSmsSink } from "./lib/sms-sink.ts";
import { createSupervisor } from "./lib/supervisor.ts";
import { waitUntil } from "./lib/wait.ts";

const USAGE = `usage: pnpm start [--replicas N] [--demo]
  --replicas N  N processes of each service (ports base+100*i), load-balanced by the gateway
  --demo        run scripts/demo.ts once everything is ready`;
const READY_DEADLINE_MS = 60_000;
const STOP_DEADLINE_MS = 20_000;

const log = scriptLogger("start");

function parseOptions(): { replicas: number; demo: boolean } {
  try {
    const { values } = parseArgs({
      options: {
        replicas: { type: "string", default: "1" },
        demo: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    const replicas = Number(values.replicas);
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > 9) {
      throw new Error(`--replicas must be a whole number from 1 to 9, not ${values.replicas}`);
    }
    return { replicas, demo: values.demo };
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

interface ProcessPlan {
  label: string;
  service: ServiceName | "gateway";
  port: number;
  env: NodeJS.ProcessEnv;
}

function planProcesses(env: NodeJS.ProcessEnv, replicas: number): ProcessPlan[] {
  const plans: ProcessPlan[] = [];
  for (const { name, defaultPort } of SERVICES) {
    const base = basePortFor(name, defaultPort, env);
    for (let i = 0; i < replicas; i++) {
      const port = base + 100 * i;
      const label = replicas > 1 ? `${name}#${i + 1}` : name;
      plans.push({ label, service: name, port, env: serviceEnv(name, env, port) });
    }
  }
  const upstreams = (name: ServiceName) =>
    plans
      .filter((p) => p.service === name)
      .map((p) => `http://127.0.0.1:${p.port}`)
      .join(",");
  const gatewayPort = basePortFor("gateway", GATEWAY_DEFAULT_PORT, env);
  plans.push({
    label: "gateway",
    service: "gateway",
    port: gatewayPort,
    env: {
      ...env,
      SERVICE: "gateway",
      PORT: String(gatewayPort),
      GATEWAY_PORT: String(gatewayPort),
      CHECKOUT_URL: upstreams("checkout"),
      INVENTORY_URL: upstreams("inventory"),
      ORDERS_URL: upstreams("orders"),
    },
  });
  return plans;
}

async function main() {
  const { replicas, demo } = parseOptions();
  const env = { ...process.env };

  const missing = servicesMissing("src/main.ts", [...SERVICES.map((s) => s.name), "gateway"]);
  if (missing.length > 0) {
    throw new Error(
      `cannot start: no src/main.ts in ${missing.map((name) => `services/${name}`).join(", ")}`,
    );
  }
  for (const key of ["PORT", "DATABASE_URL"]) {
    if (env[key]) log.warn(`${key} is ignored here: set <SERVICE>_${key} (e.g. CHECKOUT_${key})`);
  }

  await ensurePostgres(env, log);
  await ensureNats(env, log);
  await migrateAll({ env, log });

  // DEV ONLY: every request of a local stack comes from 127.0.0.1, so a per-IP limit would
  // throttle the demo, `pnpm latency` and the benchmark as one client; per-customer limits stay
  for (const key of ["RATE_LIMIT_CHECKOUT_PER_IP", "RATE_LIMIT_OTP_PER_IP"]) {
    if (!env[key]) env[key] = "0";
  }
  const plans = planProcesses(env, replicas);
  for (const plan of plans) {
    if (await canConnect("127.0.0.1", plan.port)) {
      throw new Error(
        `port ${plan.port} (for ${plan.label}) is already in use: is codflow already running?`,
      );
    }
  }

  let sink: MailSink | undefined;
  if (!env.SMTP_URL) {
    sink = await startMailSink({
      smtpPort: Number(env.DEV_SMTP_PORT || 1025),
      httpPort: Number(env.DEV_MAIL_HTTP_PORT || 1080),
      // the subject only: addresses are personal data, read them at the sink's /messages
      onMessage: (m) => log.info(`mail sink: "${m.subject}"`),
    });
    const smtpUrl = `smtp://127.0.0.1:${sink.smtpPort}`;
    for (const plan of plans) plan.env.SMTP_URL = smtpUrl;
  }
  // never prints what it receives: the messages hold one-time codes (read them at /messages)
  let smsSink: SmsSink | undefined;
  if (!env.SMS_GATEWAY_URL) {
    smsSink = await startSmsSink({ port: Number(env.DEV_SMS_PORT || 1090) });
    for (const plan of plans) plan.env.SMS_GATEWAY_URL = smsSink.gatewayUrl;
  }

  let shuttingDown = false;
  const supervisor = createSupervisor({
    labelWidth: Math.max(...plans.map((p) => p.label.length), "demo".length),
    onUnexpectedExit: (label, code, signal) => {
      log.error(
        `${"!".repeat(72)}\n  ${bold(label)} DIED (${signal ? `signal ${signal}` : `exit code ${code}`}) ` +
          `— stopping everything\n${"!".repeat(72)}`,
      );
      void shutdown(1);
    },
  });

  async function shutdown(code: number) {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info(
      `stopping ${plans.length} processes (SIGTERM, SIGKILL after ${STOP_DEADLINE_MS / 1000} s)`,
    );
    const killed = await supervisor.stopAll(STOP_DEADLINE_MS);
    if (killed.length > 0) log.warn(`had to SIGKILL: ${killed.join(", ")}`);
    await sink?.close();
    await smsSink?.close();
    log.info(code === 0 ? "stopped" : red(`stopped after a failure (exit code ${code})`));
    process.exit(code);
  }

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (shuttingDown) {
        log.warn(`second ${signal}: killing everything now`);
        process.exit(1);
      }
      void shutdown(0);
    });
  }

  for (const plan of plans) {
    supervisor.start({
      label: plan.label,
      args: ["--import", "tsx", "src/main.ts"],
      cwd: serviceDir(plan.service),
      env: plan.env,
    });
  }

  const notReady = new Set(plans.map((p) => p.label));
  try {
    await waitUntil(
      `every service's /readyz to answer 200`,
      async () => {
        if (shuttingDown) return true;
        await Promise.all(
          plans.map(async (plan) => {
            const ok = await fetch(`http://127.0.0.1:${plan.port}/readyz`, {
              signal: AbortSignal.timeout(2_000),
            }).then(
              (res) => res.ok,
              () => false,
            );
            if (ok) notReady.delete(plan.label);
            else notReady.add(plan.label);
          }),
        );
        return notReady.size === 0;
      },
      READY_DEADLINE_MS,
      250,
    );
  } catch (error) {
    log.error(`${(error as Error).message}; not ready: ${[...notReady].join(", ")}`);
    return shutdown(1);
  }
  if (shuttingDown) return;

  const gateway = plans.find((p) => p.service === "gateway") as ProcessPlan;
  const gatewayUrl = `http://127.0.0.1:${gateway.port}`;
  const mailUrl = sink ? `http://127.0.0.1:${sink.httpPort}` : undefined;
  const services = plans
    .filter((p) => p.service !== "gateway")
    .map((p) => `${p.label} :${p.port}`)
    .join(", ");
  console.log(
    [
      "",
      green(bold("codflow is up")),
      `  gateway    ${gatewayUrl}`,
      `  API docs   ${gatewayUrl}/docs  (OpenAPI: ${gatewayUrl}/openapi.json)`,
      mailUrl
        ? `  mail sink  ${mailUrl}/messages  (SMTP 127.0.0.1:${sink?.smtpPort}, dev only)`
        : `  mail       SMTP_URL=${env.SMTP_URL}`,
      smsSink
        ? `  SMS sink   ${smsSink.url}/messages  (SMS_GATEWAY_URL ${smsSink.gatewayUrl}, dev only)`
        : `  SMS        SMS_GATEWAY_URL=${env.SMS_GATEWAY_URL}`,
      `  services   ${services}`,
      "  Ctrl-C stops everything.",
      "",
    ].join("\n"),
  );

  if (demo) {
    supervisor.start({
      label: "demo",
      args: ["--import", "tsx", join("scripts", "demo.ts")],
      cwd: REPO_ROOT,
      env: {
        ...env,
        GATEWAY_URL: gatewayUrl,
        ...(mailUrl ? { DEV_MAIL_HTTP_URL: mailUrl } : {}),
        ...(smsSink ? { DEV_SMS_HTTP_URL: smsSink.url } : {}),
      },
      onExit: (code) => {
        if (code === 0) log.info(green("demo passed; the stack keeps running (Ctrl-C stops it)"));
        else log.error(`demo FAILED (exit code ${code}); the stack keeps running for a look`);
      },
    });
  }
}

try {
  await main();
} catch (error) {
  log.error((error as Error).message);
  process.exit(1);
}
