/**
 * `pnpm bench`: the open-loop benchmark (README "Benchmark"). Starts the stack as `pnpm start`
 * does (or targets one with `--url`), seeds a catalogue and verified customers with a filled
 * cart, then sends COD checkouts through the gateway on a fixed schedule, whatever the answers
 * (no coordinated omission), and reports throughput, latency, errors, each process's CPU and
 * memory, commits and messages per order, the invariant, and PostgreSQL's own ceiling (pgbench).
 * Exits non-zero when the invariant (or the flash sale's exact outcome) does not hold.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { parseArgs } from "node:util";
import { checkInvariant } from "../test/support/invariants.ts";
import { waitForQuiescence } from "../test/support/quiescence.ts";
import { type Hops, readHops } from "./bench/hops.ts";
import { type CheckoutOutcome, httpClient, runOpenLoop, settleFromDatabase } from "./bench/load.ts";
import {
  ANALYZE_EVERY_MS,
  analyzeDatabases,
  commitsSoFar,
  databaseNames,
  mailViolations,
  messagesSoFar,
  pgbenchTps,
  postmasterPid,
  scrapeGauges,
} from "./bench/measure.ts";
import { allProcesses, type ProcessReport, usageOf, type Watched } from "./bench/proc.ts";
import { summariseAllocationProfiles, summariseProfiles } from "./bench/profile.ts";
import { startSamplerThread } from "./bench/sampler-thread.ts";
import { kneeOf, type StepResult, stepIsGood, stepRates } from "./bench/schedule.ts";
import {
  type BenchCustomer,
  benchIdentities,
  seedCatalog,
  seedCustomersInDatabase,
  seedCustomersViaApi,
  waitForVariant,
} from "./bench/seed.ts";
import { type BenchStack, startBenchStack, targetStack } from "./bench/stack.ts";
import {
  oneLine,
  probeStatements,
  type StatementsReport,
  statementsBetween,
} from "./bench/statements.ts";
import { distribution, ratePerSecond, tally } from "./bench/stats.ts";
import { apiClient } from "./lib/api.ts";
import { bold, green, red, scriptLogger } from "./lib/output.ts";
import { postgresAdminUrl } from "./lib/provision.ts";
import { REPO_ROOT } from "./lib/services.ts";

const USAGE = `usage: pnpm bench [options]
  --rate R            checkouts offered per second (default 100; flash sale 2000)
  --duration S        seconds of arrivals (default 60; --soak 600)
  --replicas N        processes of each service behind the gateway (default 1)
  --build             run each service as its container image does (node dist/main.js from a
                      runtime folder built as the Dockerfile builds it, NODE_ENV=production)
                      instead of its TypeScript sources under tsx
  --cpu-prof          each service and the gateway run with node --cpu-prof: their profiles
                      (bench-results/<time>-profiles/, for Chrome DevTools) and the top functions
                      and packages by self time are printed after the stack stops
  --alloc-prof        each service and the gateway record what they allocate, freed objects
                      included (V8's sampling heap profiler, bench-results/<time>-profiles/*.heapprofile):
                      the top allocating functions and packages are printed after the stack stops
  --pg-socket DIR     the services (and the bench) reach PostgreSQL over its Unix-domain socket
                      in DIR (e.g. /var/run/postgresql) instead of TCP: POSTGRES_ADMIN_URL
                      gets ?host=DIR, and each service's bench database URL with it
  --url URL           benchmark a running stack (pnpm start) at this gateway URL instead
  --scenario NAME     normal (default) or flash-sale (--customers race for --flash-stock units of one variant)
  --customers N       flash sale: how many customers race (default 10000)
  --flash-stock N     flash sale: units of the variant (default 500)
  --step              raise the rate from --rate by --step-increment every --step-seconds
                      until p99 > --p99-limit ms or errors appear, and report the knee
  --step-increment R  (default 100)   --step-seconds S (default 20)   --max-rate R (default 2000)
  --p99-limit MS      (default 250)
  --soak              10 minutes at 300/s unless --rate/--duration say otherwise; reports memory
                      and in-memory structure gauges per service after warm-up and at the end
  --seed MODE         api, db or auto (default): db (straight into checkout's database) when
                      more than --api-seed-limit customers and the bench started the stack
  --api-seed-limit N  (default 5000)   --seed-concurrency N (default 64)
  --connections N     keep-alive sockets of the load generator (default 1024)
  --variants N        normal scenario: products the customers spread over (default 20)
  --pgbench-seconds S (default 5; 0 skips pgbench)
  --warmup S          normal scenario: seconds of checkouts at the first rate (at most 50/s)
                      before anything is measured, so JIT compilation and cold pools stay out of
                      the figures (default 10; 0 skips it)`;

const log = scriptLogger("bench");

/** The warm-up's rate when the first measured rate is higher: enough to compile the hot paths. */
const WARM_UP_MAX_RATE = 50;

function options() {
  const { values } = parseArgs({
    options: {
      rate: { type: "string" },
      duration: { type: "string" },
      replicas: { type: "string", default: "1" },
      url: { type: "string" },
      "pg-socket": { type: "string" },
      build: { type: "boolean", default: false },
      "cpu-prof": { type: "boolean", default: false },
      "alloc-prof": { type: "boolean", default: false },
      scenario: { type: "string", default: "normal" },
      customers: { type: "string", default: "10000" },
      "flash-stock": { type: "string", default: "500" },
      step: { type: "boolean", default: false },
      "step-increment": { type: "string", default: "100" },
      "step-seconds": { type: "string", default: "20" },
      "max-rate": { type: "string", default: "2000" },
      "p99-limit": { type: "string", default: "250" },
      soak: { type: "boolean", default: false },
      seed: { type: "string", default: "auto" },
      "api-seed-limit": { type: "string", default: "5000" },
      "seed-concurrency": { type: "string", default: "64" },
      connections: { type: "string", default: "1024" },
      variants: { type: "string", default: "20" },
      "pgbench-seconds": { type: "string", default: "5" },
      warmup: { type: "string", default: "10" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const positive = (name: string, raw: string | undefined, fallback: number, min = 1) => {
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isFinite(n) || n < min) {
      console.error(`--${name} must be a number ≥ ${min}, not ${raw}\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  const scenario = values.scenario;
  if (scenario !== "normal" && scenario !== "flash-sale") {
    console.error(`--scenario must be normal or flash-sale\n${USAGE}`);
    process.exit(2);
  }
  if (!["api", "db", "auto"].includes(values.seed)) {
    console.error(`--seed must be api, db or auto\n${USAGE}`);
    process.exit(2);
  }
  const pgSocket = values["pg-socket"];
  if (pgSocket !== undefined && !pgSocket.startsWith("/")) {
    console.error(`--pg-socket must be an absolute directory, not ${pgSocket}\n${USAGE}`);
    process.exit(2);
  }
  if (values["cpu-prof"] && values["alloc-prof"]) {
    console.error(
      `--cpu-prof and --alloc-prof each slow the other's figures: one at a time\n${USAGE}`,
    );
    process.exit(2);
  }
  for (const own of ["build", "cpu-prof", "alloc-prof", "pg-socket"] as const) {
    if (values[own] && values.url) {
      console.error(
        `--${own} needs the services the bench starts; it cannot go with --url\n${USAGE}`,
      );
      process.exit(2);
    }
  }
  const flash = scenario === "flash-sale";
  const rate = positive("rate", values.rate, flash ? 2000 : values.soak ? 300 : 100);
  const customers = positive("customers", values.customers, 10_000);
  return {
    scenario,
    rate,
    duration: flash
      ? customers / rate
      : positive("duration", values.duration, values.soak ? 600 : 60),
    replicas: positive("replicas", values.replicas, 1),
    url: values.url,
    pgSocket,
    build: values.build,
    cpuProf: values["cpu-prof"],
    allocProf: values["alloc-prof"],
    customers,
    flashStock: positive("flash-stock", values["flash-stock"], 500),
    step: values.step,
    stepIncrement: positive("step-increment", values["step-increment"], 100),
    stepSeconds: positive("step-seconds", values["step-seconds"], 20),
    maxRate: positive("max-rate", values["max-rate"], 2000),
    p99LimitMs: positive("p99-limit", values["p99-limit"], 250),
    soak: values.soak,
    seed: values.seed as "api" | "db" | "auto",
    apiSeedLimit: positive("api-seed-limit", values["api-seed-limit"], 5000, 0),
    seedConcurrency: positive("seed-concurrency", values["seed-concurrency"], 64),
    connections: positive("connections", values.connections, 1024),
    variants: positive("variants", values.variants, 20),
    pgbenchSeconds: positive("pgbench-seconds", values["pgbench-seconds"], 5, 0),
    // the flash sale's stock is the scenario: no checkout may take any of it beforehand
    warmupSeconds: flash ? 0 : positive("warmup", values.warmup, 10, 0),
  };
}

/** What one timed phase (a whole run, or one `--step`) measured. */
function summarise(
  outcomes: readonly CheckoutOutcome[],
  { startedAt, rate, seconds }: { startedAt: number; rate: number; seconds: number },
) {
  const confirmed = outcomes.filter((o) => o.status === "confirmed");
  const failed = outcomes.filter((o) => o.status === "failed");
  const httpErrors = outcomes.flatMap((o) =>
    o.attempts.filter((a) => a.httpStatus !== 200 && a.httpStatus !== 202),
  );
  const terminal = outcomes.filter((o) => o.status === "confirmed" || o.status === "failed");
  return {
    offeredPerSecond: rate,
    seconds,
    checkouts: outcomes.length,
    confirmed: confirmed.length,
    failed: failed.length,
    stillProcessing: outcomes.filter((o) => o.status === "processing").length,
    sustainedConfirmedPerSecond: ratePerSecond(
      confirmed.map((o) => o.doneAt),
      startedAt,
      startedAt + seconds * 1000,
    ),
    /**
     * The same over the window's second half only: the stack at speed, once the connections to
     * checkout are open (a busy Node service accepts one per event-loop turn, so a jump in load
     * takes checkout tens of seconds to take in; see connection-ramp.ts).
     */
    secondHalfConfirmedPerSecond: ratePerSecond(
      confirmed.map((o) => o.doneAt),
      startedAt + seconds * 500,
      startedAt + seconds * 1000,
    ),
    /** Scheduled send → terminal state known, as the client saw it. */
    clientLatencyMs: distribution(terminal.map((o) => o.doneAt - o.scheduledAt)),
    /** The checkout's createdAt → updatedAt. */
    serverLatencyMs: distribution(
      terminal.flatMap((o) => (o.serverMs === undefined ? [] : [o.serverMs])),
    ),
    /**
     * The same for the checkouts sent in the window's second half: the stack at speed, once the
     * jump from the warm-up's rate has been taken in (connections, pools, batch sizes).
     */
    secondHalfServerLatencyMs: distribution(
      terminal.flatMap((o) =>
        o.serverMs === undefined || o.scheduledAt < startedAt + seconds * 500 ? [] : [o.serverMs],
      ),
    ),
    httpErrorsByStatus: tally(httpErrors.map((o) => String(o.httpStatus))),
    httpErrorsBySlug: tally(httpErrors.map((o) => o.slug ?? o.error ?? "(none)")),
    /** Checkouts the storefront had to send more than once (each failed attempt is an error). */
    retriedCheckouts: outcomes.filter((o) => o.attempts.length > 1).length,
    failedByReason: tally(failed.map((o) => o.failureReason ?? "(none)")),
  };
}

type Summary = ReturnType<typeof summarise>;

const ms = (n: number) => (Number.isFinite(n) ? `${n.toFixed(1)} ms` : "–");
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
const kv = (record: Record<string, number>) =>
  Object.keys(record).length === 0
    ? "none"
    : Object.entries(record)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ");

function printSummary(title: string, s: Summary) {
  const row = (name: string, d: Summary["clientLatencyMs"]) =>
    `  ${name.padEnd(36)} p50 ${ms(d.p50).padStart(10)}  p95 ${ms(d.p95).padStart(10)}  p99 ${ms(d.p99).padStart(10)}  max ${ms(d.max).padStart(10)}  (n=${d.count})`;
  console.log(
    [
      bold(title),
      `  offered                              ${s.offeredPerSecond}/s for ${s.seconds.toFixed(1)} s (${s.checkouts} checkouts)`,
      `  sustained confirmed                  ${s.sustainedConfirmedPerSecond.toFixed(1)}/s (confirmations within the window ÷ window); ${s.secondHalfConfirmedPerSecond.toFixed(1)}/s in its second half`,
      `  outcomes                             ${s.confirmed} confirmed, ${s.failed} failed, ${s.stillProcessing} still processing`,
      row("latency, client (from schedule)", s.clientLatencyMs),
      row("latency, server (createdAt→updatedAt)", s.serverLatencyMs),
      row("  the same, sent in its second half", s.secondHalfServerLatencyMs),
      `  HTTP errors by status                ${kv(s.httpErrorsByStatus)}`,
      `  HTTP errors by problem               ${kv(s.httpErrorsBySlug)}`,
      `  checkouts sent more than once        ${s.retriedCheckouts} (a storefront retries 502/503/504, a dropped connection and request-in-progress with the same key)`,
      `  failed checkouts by reason           ${kv(s.failedByReason)}`,
    ].join("\n"),
  );
}

function printProcesses(reports: readonly ProcessReport[]) {
  console.log(
    bold(
      "processes (CPU seconds over the timed phase and its drain; memory: RSS, PostgreSQL summed Pss)",
    ),
  );
  for (const r of reports) {
    console.log(
      `  ${r.label.padEnd(22)} cpu ${r.cpuSeconds.toFixed(1).padStart(7)} s   peak ${mb(r.peakMemoryBytes).padStart(7)}   first ${mb(r.firstMemoryBytes).padStart(7)}   last ${mb(r.lastMemoryBytes).padStart(7)}`,
    );
  }
}

function printStatements(report: StatementsReport | undefined) {
  if (!report) {
    console.log("  PostgreSQL statements                not counted (the warning above says why)");
    return;
  }
  console.log(
    [
      `  PostgreSQL statements                ${report.statementsPerOrder.toFixed(1)} (BEGIN and COMMIT included), ${report.execMsPerOrder.toFixed(2)} ms of execution`,
      bold("PostgreSQL's top statements by execution time (pg_stat_statements, over the run)"),
      "   share  per order   mean ms  rows/call  database   statement",
      ...report.top.map(
        (t) =>
          `  ${(t.share * 100).toFixed(1).padStart(5)} %  ${t.callsPerOrder.toFixed(2).padStart(9)}  ${t.meanMs.toFixed(3).padStart(8)}  ${(t.rows / t.calls).toFixed(1).padStart(9)}  ${t.database.replace(/^codflow_bench_/, "").padEnd(9)}  ${oneLine(t.query, 90)}`,
      ),
    ].join("\n"),
  );
}

function printHops(hops: Hops) {
  const row = (name: string, d: Hops["relay"][number]["latencyMs"]) =>
    `  ${name.padEnd(66)} p50 ${ms(d.p50).padStart(9)}  p95 ${ms(d.p95).padStart(9)}  p99 ${ms(d.p99).padStart(9)}  max ${ms(d.max).padStart(9)}  (n=${d.count})`;
  console.log(
    [
      bold(
        "between services (relay: the writing transaction's start → published; delivery: published → the consumer's transaction)",
      ),
      ...hops.relay.map((h) => row(`relay     ${h.type}`, h.latencyMs)),
      ...hops.delivery.map((h) => row(`delivery  ${h.type} → ${h.consumer}`, h.latencyMs)),
    ].join("\n"),
  );
}

/** The top of each process's profile: a headline, then shares of its total by origin and function. */
function printProfiles({ kind, dir }: { kind: "cpu" | "alloc"; dir: string }) {
  const share = (part: number, of: number) => `${((part / of) * 100).toFixed(1).padStart(5)} %`;
  const tops =
    kind === "cpu"
      ? [...summariseProfiles(dir, 10)].map(([label, p]) => ({
          headline: `${label}: ${(p.busyMs / 1000).toFixed(1)} s busy over its life, by self time`,
          total: p.busyMs,
          origins: p.origins.map((o) => [o.origin, o.ms] as const),
          functions: p.functions.map((f) => ({ ...f, amount: f.ms })),
        }))
      : [...summariseAllocationProfiles(dir, 10)].map(([label, p]) => ({
          headline: `${label}: ${(p.bytes / 1e6).toFixed(0)} MB allocated over its life (sampled), by allocating function`,
          total: p.bytes,
          origins: p.origins.map((o) => [o.origin, o.bytes] as const),
          functions: p.functions.map((f) => ({ ...f, amount: f.bytes })),
        }));
  for (const { headline, total, origins, functions } of tops) {
    console.log(bold(`\n${headline}`));
    console.log(
      `  ${origins.map(([origin, part]) => `${origin} ${share(part, total).trim()}`).join(", ")}`,
    );
    for (const f of functions)
      console.log(`  ${share(f.amount, total)}  ${f.name.slice(0, 40).padEnd(40)} ${f.where}`);
  }
  const panel = kind === "cpu" ? "Performance" : "Memory";
  console.log(`\nprofiles: ${dir} (open in Chrome DevTools, ${panel})`);
}

/** The processes to watch: the stack's own, PostgreSQL, nats-server and this load generator. */
async function watchedProcesses(stack: BenchStack, adminUrl: string): Promise<Watched[]> {
  const watched: Watched[] = [...stack.processes];
  const postmaster = await postmasterPid(adminUrl).catch(() => undefined);
  if (postmaster) watched.push({ label: "postgres (all)", pid: postmaster, withChildren: true });
  else log.warn("PostgreSQL's processes are not on this machine: not measured");
  const nats = allProcesses().filter((p) => p.comm === "nats-server");
  if (nats.length === 1)
    watched.push({ label: "nats-server", pid: (nats[0] as { pid: number }).pid });
  else log.warn(`found ${nats.length} nats-server processes: not measured`);
  watched.push({ label: "load generator (bench)", pid: process.pid });
  return watched;
}

const IN_MEMORY_GAUGES =
  /^(codflow_checkout_status_watches|codflow_checkout_accept_queued|nodejs_heap_size_used_bytes|nodejs_active_handles_total|nodejs_active_requests_total)$/;

async function soakSnapshot(stack: BenchStack, watched: readonly Watched[]) {
  const services: Record<string, { memoryBytes?: number; gauges: Record<string, number> }> = {};
  for (const { label, url } of stack.serviceUrls) {
    const proc = watched.find((w) => w.label === label);
    services[label] = {
      memoryBytes: proc ? usageOf(proc)?.memoryBytes : undefined,
      gauges: await scrapeGauges(url, IN_MEMORY_GAUGES).catch(() => ({})),
    };
  }
  return services;
}

async function main() {
  const opts = options();
  const env = { ...process.env };
  if (opts.pgSocket) {
    const url = new URL(postgresAdminUrl(env));
    url.searchParams.set("host", opts.pgSocket);
    env.POSTGRES_ADMIN_URL = url.toString();
  }
  const adminUrl = postgresAdminUrl(env);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const resultsDir = join(REPO_ROOT, "bench-results");
  mkdirSync(resultsDir, { recursive: true });
  const flash = opts.scenario === "flash-sale";

  const profileDir = join(resultsDir, `${stamp}-profiles`);
  const profile = opts.cpuProf
    ? ({ kind: "cpu", dir: profileDir } as const)
    : opts.allocProf
      ? ({ kind: "alloc", dir: profileDir } as const)
      : undefined;
  const stack = opts.url
    ? targetStack(opts.url, env)
    : await startBenchStack({
        replicas: opts.replicas,
        build: opts.build,
        env,
        log,
        logDir: join(resultsDir, `${stamp}-logs`),
        profile,
      });
  const stopStack = async () => {
    await stack.stop().catch((error: Error) => log.warn(`stopping the stack: ${error.message}`));
  };
  process.once("SIGINT", () => void stopStack().then(() => process.exit(130)));
  if (opts.url) {
    log.warn(
      "--url: the services' processes are not the bench's, so their CPU and memory are not measured, and mails go to that stack's sink (not checked here)",
    );
  }
  const quiet = (timeoutMs = 900_000) => waitForQuiescence(stack, { timeoutMs });

  try {
    const api = apiClient(stack.gatewayUrl);
    const tag = stamp
      .toLowerCase()
      .replace(/[^a-z0-9]/g, "")
      .slice(-12);
    const rates = opts.step ? stepRates(opts.rate, opts.stepIncrement, opts.maxRate) : [opts.rate];
    const seconds = opts.step ? opts.stepSeconds : opts.duration;
    const planned = flash ? opts.customers : Math.round(opts.rate * seconds);
    const warmUpRate = Math.min(rates[0] as number, WARM_UP_MAX_RATE);
    const warmUpCount = Math.round(warmUpRate * opts.warmupSeconds);
    const variantIds = await seedCatalog(api, {
      tag,
      variants: flash ? 1 : opts.variants,
      stockEach: flash
        ? opts.flashStock
        : Math.ceil(
            ((rates.reduce((sum, r) => sum + r * seconds, 0) + warmUpCount) * 2) / opts.variants,
          ),
    });
    const variantOf = (i: number) => variantIds[i % variantIds.length] as string;
    const [probe] = await benchIdentities(`${tag}-probe`, 1);
    await waitForVariant(api, probe as BenchCustomer, variantIds[variantIds.length - 1] as string);

    let seeded = 0;
    const seedCustomers = async (count: number) => {
      const viaDb =
        opts.seed === "db" || (opts.seed === "auto" && count > opts.apiSeedLimit && stack.owned);
      if (viaDb && !stack.owned)
        throw new Error("--seed db needs a stack the bench started (not --url)");
      const started = performance.now();
      const customers = await benchIdentities(tag, count, seeded);
      if (viaDb)
        await seedCustomersInDatabase(stack.databaseUrls.checkout, customers, (i) =>
          variantOf(seeded + i),
        );
      else
        await seedCustomersViaApi(
          api,
          stack.sms,
          customers,
          (i) => variantOf(seeded + i),
          opts.seedConcurrency,
        );
      seeded += count;
      const took = (performance.now() - started) / 1000;
      log.info(
        `seeded ${count} verified customers with a filled cart ${viaDb ? "straight into checkout's database" : "through the API"} in ${took.toFixed(1)} s (${(count / took).toFixed(0)}/s)`,
      );
      return { customers, seconds: took, via: viaDb ? "db" : "api" };
    };

    const client = httpClient(stack.gatewayUrl, opts.connections);
    const watched = await watchedProcesses(stack, adminUrl);
    const seeding: { customers: number; seconds: number; via: string }[] = [];
    const phases: (Summary & { maxSendLagMs: number })[] = [];
    const allOutcomes: { customer: BenchCustomer; outcome: CheckoutOutcome }[] = [];
    const warmUpOutcomes: typeof allOutcomes = [];
    const duplicates: string[] = [];

    if (warmUpCount > 0) {
      const { customers } = await seedCustomers(warmUpCount);
      log.info(`warming up: ${warmUpRate} checkouts/s for ${opts.warmupSeconds} s (not measured)…`);
      const warm = await runOpenLoop(client, customers, {
        rate: warmUpRate,
        seconds: opts.warmupSeconds,
      });
      await quiet();
      for (const customer of await settleFromDatabase(
        stack.databaseUrls.checkout,
        warm.outcomes,
        customers.map((c) => c.id),
      ))
        duplicates.push(`customer ${customer} has more than one checkout`);
      // checked with the rest (invariant, mails), never counted in a figure
      warmUpOutcomes.push(
        ...warm.outcomes.map((outcome, i) => ({
          customer: customers[i] as BenchCustomer,
          outcome,
        })),
      );
    }
    let first = await seedCustomers(planned);
    seeding.push({ customers: planned, seconds: first.seconds, via: first.via });
    await quiet();
    const analyzing = stack.owned
      ? await analyzeDatabases(stack.databaseUrls, (error) =>
          log.warn(`analyzing the bench's databases failed: ${error.message}`),
        )
      : undefined;
    const autovacuum = analyzing?.autovacuum;
    if (autovacuum === false)
      log.warn(
        `autovacuum is off on this PostgreSQL: the bench analyzes its databases every ${ANALYZE_EVERY_MS / 1000} s in its place, but dead rows pile up during the run as they would not in production`,
      );
    // pg_stat_database lags up to ~10 s behind the backends: let the seeding's commits land,
    // then measure what the idle stack commits by itself (pollers, sweepers) over 5 s
    await delay(11_000);
    const idleFrom = {
      at: performance.now(),
      commits: await commitsSoFar(adminUrl, stack.databaseUrls),
    };
    await delay(5_000);
    const commitsBefore = await commitsSoFar(adminUrl, stack.databaseUrls);
    const idleCommitsPerSecond =
      (commitsBefore - idleFrom.commits) / ((performance.now() - idleFrom.at) / 1000);
    const messagesBefore = await messagesSoFar(stack.natsUrl, stack.namespace);
    const statements = await probeStatements(adminUrl, databaseNames(stack.databaseUrls));
    if (!statements.available) log.warn(`PostgreSQL's top statements: ${statements.reason}`);
    const statementsBefore = statements.available ? await statements.snapshot() : undefined;

    const sampler = await startSamplerThread(watched);
    const timedFrom = performance.now();
    const timedFromDate = new Date();
    let firstStartedAt = timedFrom;
    let soakStart: Awaited<ReturnType<typeof soakSnapshot>> | undefined;
    const warmUpMs = Math.min(60_000, (opts.duration * 1000) / 5);
    const soakTimer =
      opts.soak && !opts.step
        ? setTimeout(
            () =>
              void soakSnapshot(stack, watched).then((s) => {
                soakStart = s;
              }),
            warmUpMs,
          )
        : undefined;
    const steps: StepResult[] = [];
    let soakEnd: Awaited<ReturnType<typeof soakSnapshot>> | undefined;
    let deadLetters = 0;
    for (const [index, rate] of rates.entries()) {
      if (index > 0) {
        first = await seedCustomers(Math.round(rate * seconds));
        seeding.push({
          customers: Math.round(rate * seconds),
          seconds: first.seconds,
          via: first.via,
        });
        await quiet();
        await sampler.resume();
      }
      log.info(
        `${opts.step ? `step ${index + 1}: ` : ""}${rate} checkouts/s for ${seconds.toFixed(1)} s…`,
      );
      const run = await runOpenLoop(client, first.customers, { rate, seconds });
      if (index === 0) firstStartedAt = run.startedAt;
      if (run.maxSendLagMs > 50)
        log.warn(
          `the load generator sent up to ${run.maxSendLagMs.toFixed(0)} ms late: it may be a bottleneck`,
        );
      if (opts.soak && !opts.step) soakEnd = await soakSnapshot(stack, watched);
      log.info("waiting for every checkout to end and every outbox to drain…");
      deadLetters = (await quiet()).deadLetters;
      // what follows is the bench reading its results back, not the stack's work
      await sampler.pause();
      const customerIds = first.customers.slice(0, run.outcomes.length).map((c) => c.id);
      for (const customer of await settleFromDatabase(
        stack.databaseUrls.checkout,
        run.outcomes,
        customerIds,
      ))
        duplicates.push(`customer ${customer} has more than one checkout`);
      const summary = {
        ...summarise(run.outcomes, { startedAt: run.startedAt, rate, seconds }),
        maxSendLagMs: run.maxSendLagMs,
      };
      phases.push(summary);
      for (const [i, outcome] of run.outcomes.entries()) {
        allOutcomes.push({ customer: first.customers[i] as BenchCustomer, outcome });
      }
      printSummary(opts.step ? `step ${index + 1}: ${rate}/s` : "run", summary);
      if (opts.step) {
        const step = {
          rate,
          p99Ms: summary.clientLatencyMs.p99,
          errors:
            Object.values(summary.httpErrorsByStatus).reduce((a, b) => a + b, 0) +
            summary.failed +
            summary.stillProcessing,
        };
        steps.push(step);
        if (!stepIsGood(step, { p99LimitMs: opts.p99LimitMs })) break;
      }
    }
    const timedSeconds = (performance.now() - timedFrom) / 1000;
    const hops = await readHops(stack.databaseUrls, timedFromDate, new Date()).catch(
      (error: Error) => {
        log.warn(`reading the outbox and inbox times failed: ${error.message}`);
        return undefined;
      },
    );
    clearTimeout(soakTimer);
    const processes = await sampler.stop();
    await analyzing?.stop();
    client.close();
    const messages = (await messagesSoFar(stack.natsUrl, stack.namespace)) - messagesBefore;
    const settledAt = performance.now();
    await delay(11_000);
    const commitsRaw = (await commitsSoFar(adminUrl, stack.databaseUrls)) - commitsBefore;
    const idleCommits =
      idleCommitsPerSecond * ((performance.now() - settledAt) / 1000 + timedSeconds);
    const accepted = allOutcomes.filter((o) => o.outcome.checkoutId);
    const orders = accepted.length;
    let statementsReport: StatementsReport | undefined;
    if (statements.available && statementsBefore) {
      statementsReport = statementsBetween(statementsBefore, await statements.snapshot(), orders);
      await statements.close();
    }

    log.info("checking the invariant…");
    const violations = await checkInvariant(stack.databaseUrls);
    violations.push(...duplicates);
    if (deadLetters > 0) violations.push(`${deadLetters} dead letters`);
    if (stack.mail) {
      violations.push(
        ...mailViolations(
          await stack.mail.counts(),
          [...warmUpOutcomes, ...accepted].map(({ customer, outcome }) => ({
            email: customer.email,
            status: outcome.status ?? "",
          })),
        ),
      );
    }
    const total = summarise(
      allOutcomes.map((o) => o.outcome),
      { startedAt: firstStartedAt, rate: opts.rate, seconds },
    );
    if (flash) {
      if (total.confirmed !== opts.flashStock)
        violations.push(`flash sale: ${total.confirmed} confirmed, not exactly ${opts.flashStock}`);
      const outOfStock = total.failedByReason.out_of_stock ?? 0;
      if (outOfStock !== opts.customers - opts.flashStock)
        violations.push(
          `flash sale: ${outOfStock} failed out_of_stock, not ${opts.customers - opts.flashStock}`,
        );
    }

    let pgbench: { tps: number; efficiency: number } | undefined;
    const commitsPerOrder = orders > 0 ? commitsRaw / orders : Number.NaN;
    const netCommitsPerOrder =
      orders > 0 ? Math.max(0, commitsRaw - idleCommits) / orders : Number.NaN;
    if (opts.pgbenchSeconds > 0) {
      log.info(
        `PostgreSQL ceiling: pgbench -N -T ${opts.pgbenchSeconds} -c 4 -j 2 on a scratch database…`,
      );
      const tps = await pgbenchTps(adminUrl, opts.pgbenchSeconds);
      const best = Math.max(...phases.map((p) => p.sustainedConfirmedPerSecond));
      pgbench = { tps, efficiency: best / (tps / netCommitsPerOrder) };
    }

    console.log("");
    if (stack.owned) {
      console.log(
        opts.build
          ? "services ran as their images do: node dist/main.js, NODE_ENV=production (--build)"
          : "services ran from their TypeScript sources under tsx (--build runs the image's bundles)",
      );
    }
    printProcesses(processes);
    const { knee, stoppedAt } = kneeOf(steps, { p99LimitMs: opts.p99LimitMs });
    console.log(
      [
        bold("per order"),
        `  PostgreSQL commits                   ${commitsPerOrder.toFixed(2)} (${netCommitsPerOrder.toFixed(2)} without the idle stack's ${idleCommitsPerSecond.toFixed(1)}/s)`,
        `  NATS messages                        ${(orders > 0 ? messages / orders : Number.NaN).toFixed(2)}`,
        ...seeding.map(
          (s) =>
            `  seeding                              ${s.customers} customers in ${s.seconds.toFixed(1)} s via ${s.via}`,
        ),
        ...(pgbench
          ? [
              `  pgbench -N tps                       ${pgbench.tps.toFixed(0)}`,
              `  efficiency                           ${pgbench.efficiency.toFixed(3)} (best sustained confirmed/s ÷ (pgbench tps ÷ commits per order))`,
            ]
          : []),
        ...(opts.step
          ? [
              `  knee                                 ${knee === undefined ? "none (the first step was already bad)" : `${knee}/s`}${stoppedAt ? `; ${stoppedAt}/s broke p99 ≤ ${opts.p99LimitMs} ms or had errors` : `; no step up to ${opts.maxRate}/s went bad`}`,
            ]
          : []),
      ].join("\n"),
    );
    printStatements(statementsReport);
    if (hops) printHops(hops);
    if (soakEnd) {
      console.log(
        bold(`soak: per service after warm-up (${(warmUpMs / 1000).toFixed(0)} s) → end`),
      );
      for (const [label, end] of Object.entries(soakEnd)) {
        const start = soakStart?.[label];
        const gauges = Object.entries(end.gauges)
          .map(
            ([name, v]) =>
              `${name.replace(/^(codflow_|nodejs_)/, "")} ${start?.gauges[name] ?? "?"} → ${v}`,
          )
          .join(", ");
        console.log(
          `  ${label.padEnd(12)} memory ${start?.memoryBytes ? mb(start.memoryBytes) : "?"} → ${end.memoryBytes ? mb(end.memoryBytes) : "?"}; ${gauges}`,
        );
      }
    }
    console.log(
      violations.length === 0
        ? green(
            bold(
              `invariant holds: ${orders} checkouts all terminal, no duplicate, stock adds up, one mail each`,
            ),
          )
        : red(
            bold(
              `INVARIANT VIOLATED (${violations.length}):\n  ${violations.slice(0, 20).join("\n  ")}`,
            ),
          ),
    );

    const file = join(resultsDir, `${stamp}.json`);
    writeFileSync(
      file,
      `${JSON.stringify(
        {
          at: new Date().toISOString(),
          options: opts,
          gatewayUrl: stack.gatewayUrl,
          // the server's; off: the bench analyzed every ANALYZE_EVERY_MS, dead rows piled up
          autovacuum,
          seeding,
          phases,
          total,
          steps: opts.step ? { steps, knee, stoppedAt } : undefined,
          processes,
          commits: {
            raw: commitsRaw,
            perOrder: commitsPerOrder,
            netPerOrder: netCommitsPerOrder,
            idlePerSecond: idleCommitsPerSecond,
          },
          natsMessages: { total: messages, perOrder: orders > 0 ? messages / orders : null },
          pgbench,
          statements: statementsReport ?? null,
          hops: hops ?? null,
          soak: soakEnd
            ? { warmUpSeconds: warmUpMs / 1000, start: soakStart, end: soakEnd }
            : undefined,
          invariant: { holds: violations.length === 0, violations: violations.slice(0, 1000) },
        },
        null,
        2,
      )}\n`,
    );
    log.info(`results: ${file}`);
    return violations.length === 0 ? 0 : 1;
  } finally {
    await stopStack();
    // each process writes its profile as it exits
    if (profile) printProfiles(profile);
  }
}

try {
  process.exit(await main());
} catch (error) {
  log.error((error as Error).stack ?? String(error));
  process.exit(1);
}
