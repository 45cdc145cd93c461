import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { buildPrometheusRule } from "../../scripts/ops/prometheus-rule.ts";
import { listFiles, REPO_ROOT, RULE_TESTS_DIR, ruleFiles } from "./promql.ts";

const promtool = spawnSync("promtool", ["--version"], { encoding: "utf8" });
const missing = promtool.error !== undefined;
const SKIP = "SKIPPED: promtool is not installed (apt-get install -y prometheus; .ci/run does)";

function run(...args: string[]) {
  const result = spawnSync("promtool", args, { cwd: REPO_ROOT, encoding: "utf8" });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe.skipIf(missing)(`promtool${missing ? ` — ${SKIP}` : ""}`, () => {
  it("check rules: every rule file", () => {
    const { status, output } = run(
      "check",
      "rules",
      ...ruleFiles().map((f) => relative(REPO_ROOT, f)),
    );
    expect(status, output).toBe(0);
  });

  it("test rules: every unit test of every alert", () => {
    const tests = listFiles(RULE_TESTS_DIR, ".test.yml").map((f) => relative(REPO_ROOT, f));
    expect(tests.length).toBeGreaterThan(0);
    const { status, output } = run("test", "rules", ...tests);
    expect(status, output).toBe(0);
    expect(output).not.toMatch(/FAILED/);
  });

  it("check config: the example scrape config and its rule files", () => {
    const { status, output } = run("check", "config", "ops/prometheus/prometheus.yml");
    expect(status, output).toBe(0);
  });

  it("check rules: the groups of the generated PrometheusRule", () => {
    const dir = mkdtempSync(join(tmpdir(), "codflow-prometheusrule-"));
    try {
      const file = join(dir, "spec.rules.yml");
      writeFileSync(file, stringify({ groups: buildPrometheusRule().spec.groups }));
      const { status, output } = run("check", "rules", file);
      expect(status, output).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

it.runIf(missing)(SKIP, () => {
  console.warn(`ops/test/promtool.test.ts: ${SKIP}`);
});
