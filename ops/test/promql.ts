/**
 * Helpers for the ops tests: the PromQL expressions of codflow's rule files and Grafana
 * dashboards, the metric names those expressions use, and the metric names the services'
 * code really registers.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const RULES_DIR = join(REPO_ROOT, "ops/prometheus/rules");
export const RULE_TESTS_DIR = join(REPO_ROOT, "ops/prometheus/tests");
export const DASHBOARDS_DIR = join(REPO_ROOT, "ops/grafana/dashboards");
export const RUNBOOKS_DIR = join(REPO_ROOT, "ops/runbooks");

export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RuleGroup {
  name: string;
  rules: Rule[];
}

/** An expression and where it comes from (for failure messages). */
export interface Located {
  where: string;
  expr: string;
}

export function listFiles(dir: string, suffix: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...listFiles(path, suffix));
    else if (entry.endsWith(suffix)) out.push(path);
  }
  return out.sort();
}

export function ruleFiles(): string[] {
  return listFiles(RULES_DIR, ".yml");
}

export function ruleGroups(file: string): RuleGroup[] {
  return (parse(readFileSync(file, "utf8")) as { groups: RuleGroup[] }).groups;
}

export function allRules(): Array<Rule & { file: string; group: string }> {
  return ruleFiles().flatMap((file) =>
    ruleGroups(file).flatMap((g) =>
      g.rules.map((r) => ({ ...r, file: relative(REPO_ROOT, file), group: g.name })),
    ),
  );
}

export function ruleExpressions(): Located[] {
  return allRules().map((r) => ({
    where: `${r.file} ${r.group}/${r.alert ?? r.record}`,
    expr: r.expr,
  }));
}

export function dashboardFiles(): string[] {
  return listFiles(DASHBOARDS_DIR, ".json");
}

/** Every target `expr` of every panel (rows included) and every query variable's query. */
export function dashboardExpressions(file: string): Located[] {
  const dashboard = JSON.parse(readFileSync(file, "utf8"));
  const name = relative(REPO_ROOT, file);
  const found: Located[] = [];
  const walkPanels = (panels: unknown[] | undefined) => {
    for (const panel of (panels ?? []) as Array<Record<string, unknown>>) {
      for (const target of (panel.targets ?? []) as Array<{ expr?: string }>) {
        if (target.expr) found.push({ where: `${name} panel "${panel.title}"`, expr: target.expr });
      }
      walkPanels(panel.panels as unknown[] | undefined);
    }
  };
  walkPanels(dashboard.panels);
  for (const v of (dashboard.templating?.list ?? []) as Array<Record<string, unknown>>) {
    if (v.type !== "query") continue;
    const raw = typeof v.query === "string" ? v.query : (v.query as { query?: string })?.query;
    if (!raw) continue;
    // label_values(<expr>, label) / label_values(label), query_result(<expr>), metrics(regex)
    const lv = raw.match(/^\s*label_values\(\s*(.+),\s*[a-zA-Z_]\w*\s*\)\s*$/);
    const qr = raw.match(/^\s*query_result\(\s*(.+)\)\s*$/);
    const expr = lv?.[1] ?? qr?.[1] ?? (/^\s*(label_values|metrics)\(/.test(raw) ? "" : raw);
    if (expr) found.push({ where: `${name} variable $${v.name}`, expr });
  }
  return found;
}

const KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "offset",
  "inf",
  "nan",
  "atan2",
]);

/**
 * The metric names a PromQL expression selects: string literals, label matchers, ranges,
 * grouping clauses and Grafana variables are removed first; what is left is function names
 * (followed by "("), keywords, numbers and metric names.
 */
export function metricNames(expr: string): string[] {
  let s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^{}]*\}/g, " ")
    .replace(/\[[^\][]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)/g, " ")
    .replace(/\$\{[^}]*\}|\$\w+/g, " ");
  // `x offset 5m` / `x @ 123`
  s = s.replace(/\boffset\s+-?[\dsmhdwy]+/g, " ").replace(/@\s*[\d.]+/g, " ");
  const names = new Set<string>();
  for (const m of s.matchAll(/(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(\s*\()?/g)) {
    const [, name, call] = m;
    if (!name || call || KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names];
}

function sourceFiles(dir: string): string[] {
  return listFiles(dir, ".ts").filter((f) => !/\.test\.ts$|\/test\/|\/testing\//.test(f));
}

/**
 * Names the services register, read from their code: the first string argument of any call
 * (`counter("codflow_x", …)`, `lagGauge("codflow_x", …)`), the first element of a tuple
 * (`scrapeGauges({ k: ["codflow_x", …] })`) and `name: "codflow_x"` (`new Gauge({ name })`);
 * histograms (`histogram("…"`, `new Histogram({ name: "…"`) add `_bucket`, `_sum`, `_count`.
 * @hono/prometheus's two HTTP metrics are read from its package, under the prefix
 * packages/shared/src/http/app.ts gives it. `process_*` / `nodejs_*` come from prom-client's
 * default metrics, `up` from Prometheus.
 */
export function exportedMetrics(): { names: Set<string>; prefixes: string[] } {
  const files = [
    ...readdirSync(join(REPO_ROOT, "services")).flatMap((s) => {
      const src = join(REPO_ROOT, "services", s, "src");
      try {
        return sourceFiles(src);
      } catch {
        return [];
      }
    }),
    ...sourceFiles(join(REPO_ROOT, "packages/shared/src")),
  ];
  const names = new Set<string>(["up"]);
  const histograms = new Set<string>();
  const q = `["'\`]`;
  const metric = "([a-zA-Z_:][a-zA-Z0-9_:]*)";
  let defaultMetrics = false;
  let honoPrefix: string | undefined;
  for (const file of files) {
    // Comments may show example names (`["codflow_x", "help"]`): only code counts.
    const code = readFileSync(file, "utf8")
      .replace(/\/\*[\s\S]*?\*\//g, " ")
      .replace(/^\s*\/\/.*$/gm, " ");
    for (const re of [
      new RegExp(`\\w\\(\\s*${q}${metric}${q}\\s*,`, "g"),
      new RegExp(`\\[\\s*${q}${metric}${q}\\s*,`, "g"),
      new RegExp(`\\bname:\\s*${q}${metric}${q}`, "g"),
    ]) {
      for (const m of code.matchAll(re)) if (m[1]?.startsWith("codflow_")) names.add(m[1]);
    }
    for (const re of [
      new RegExp(`histogram\\(\\s*${q}${metric}${q}`, "gi"),
      new RegExp(`new Histogram(?:<[^>]*>)?\\(\\s*\\{\\s*name:\\s*${q}${metric}${q}`, "g"),
    ]) {
      for (const m of code.matchAll(re)) if (m[1]) histograms.add(m[1]);
    }
    if (/collectDefaultMetrics\(\s*\{/.test(code)) defaultMetrics = true;
    if (code.includes("@hono/prometheus")) {
      honoPrefix = code.match(/prefix:\s*["'`]([a-zA-Z0-9_]*)["'`]/)?.[1] ?? honoPrefix ?? "";
    }
  }
  if (honoPrefix !== undefined) {
    const require = createRequire(join(REPO_ROOT, "packages/shared/package.json"));
    const hono = readFileSync(require.resolve("@hono/prometheus"), "utf8");
    for (const m of hono.matchAll(/type:\s*"(histogram|counter|gauge)",\s*name:\s*"(\w+)"/g)) {
      const name = `${honoPrefix}${m[2]}`;
      names.add(name);
      if (m[1] === "histogram") histograms.add(name);
    }
  }
  for (const h of histograms) {
    names.add(h);
    for (const suffix of ["_bucket", "_sum", "_count"]) names.add(h + suffix);
  }
  return { names, prefixes: defaultMetrics ? ["process_", "nodejs_"] : [] };
}
