import { type ChildProcess, spawn } from "node:child_process";
import {
  createWriteStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, waitFor } from "@codflow/shared/testing";
import { parse, stringify } from "yaml";

/** Debian's `prometheus` package (CI: `apt-get install -y prometheus`); PROMETHEUS_BIN overrides. */
export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? "/usr/bin/prometheus";
export const hasPrometheus = existsSync(PROMETHEUS_BIN);

export const RULES_FILE = fileURLToPath(
  new URL("../../ops/prometheus/rules/codflow.rules.yml", import.meta.url),
);

interface RuleFile {
  groups: { name: string; rules: { alert?: string; expr: string; for?: string }[] }[];
}

/**
 * The repo's rule file made fast enough for a test, written to `dir`: every alert's `for:`
 * becomes `forSeconds`, and the range windows of the alerts named in `windows` (e.g. the
 * `increase(...[5m])` of CheckoutStuck, which would hold the alert for 5 minutes after the last
 * timeout) become the given window. Expressions and thresholds are otherwise the repo's own.
 */
export function fastRules(
  dir: string,
  { forSeconds = 2, windows = {} }: { forSeconds?: number; windows?: Record<string, string> } = {},
) {
  const rules = parse(readFileSync(RULES_FILE, "utf8")) as RuleFile;
  for (const group of rules.groups)
    for (const rule of group.rules) {
      if (!rule.alert) continue;
      if (rule.for) rule.for = `${forSeconds}s`;
      const window = windows[rule.alert];
      if (window) rule.expr = rule.expr.replace(/\[\d+[smhd]\]/g, `[${window}]`);
    }
  const path = join(dir, "codflow.fast.rules.yml");
  writeFileSync(path, stringify(rules));
  return path;
}

export interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: "pending" | "firing";
  activeAt: string;
  value: string;
}

/**
 * A private Prometheus: free port, temporary storage, scraping `targets` (service → host:port)
 * every second under job "codflow" (as ops/prometheus/prometheus.yml does), evaluating `ruleFile`
 * every second. Logs go to `<dir>/prometheus.log`.
 */
export async function startPrometheus({
  targets,
  ruleFile,
  dir = mkdtempSync(join(tmpdir(), "codflow-prometheus-")),
}: {
  targets: Record<string, string>;
  ruleFile: string;
  dir?: string;
}) {
  const port = await freePort();
  const config = {
    global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
    rule_files: [ruleFile],
    scrape_configs: [
      {
        job_name: "codflow",
        metrics_path: "/metrics",
        honor_labels: true,
        static_configs: Object.entries(targets).map(([service, target]) => ({
          targets: [target],
          labels: { service },
        })),
      },
    ],
  };
  const configFile = join(dir, "prometheus.yml");
  writeFileSync(configFile, stringify(config));
  const logFile = join(dir, "prometheus.log");
  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--storage.tsdb.retention.time=1h",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const log = createWriteStream(logFile);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== "success") throw new Error(`prometheus ${path}: ${body.error}`);
    return body.data;
  };

  const stop = async () => {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
    rmSync(join(dir, "data"), { recursive: true, force: true });
  };

  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null)
          throw new Error(`prometheus exited with ${child.exitCode}: see ${logFile}`);
        return (await fetch(`${url}/-/ready`)).ok;
      },
      { timeoutMs: 20_000, intervalMs: 100, what: `prometheus ready (log: ${logFile})` },
    );
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    url,
    logFile,
    api,
    /** Pending and firing alerts (`/api/v1/alerts`). */
    alerts: async () => (await api<{ alerts: Alert[] }>("/api/v1/alerts")).alerts,
    /** An instant query's vector result. */
    query: async (promql: string) =>
      (
        await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
          `/api/v1/query?query=${encodeURIComponent(promql)}`,
        )
      ).result,
    stop,
  };
}

export type Prometheus = Awaited<ReturnType<typeof startPrometheus>>;
