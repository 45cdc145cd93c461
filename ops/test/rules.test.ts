import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { allRules, listFiles, REPO_ROOT, RULE_TESTS_DIR, RUNBOOKS_DIR } from "./promql.ts";

const RUNBOOK_URL = "https://github.com/codflow/codflow/blob/main/ops/runbooks/";

interface AlertTest {
  alertname: string;
  exp_alerts?: unknown[];
}

/** alertname → [a case where it fires, a case where it stays silent] over all rule tests. */
function coverage() {
  const seen = new Map<string, { fires: boolean; silent: boolean }>();
  for (const file of listFiles(RULE_TESTS_DIR, ".test.yml")) {
    const doc = parse(readFileSync(file, "utf8")) as {
      tests: Array<{ alert_rule_test?: AlertTest[] }>;
    };
    for (const t of doc.tests.flatMap((x) => x.alert_rule_test ?? [])) {
      const entry = seen.get(t.alertname) ?? { fires: false, silent: false };
      if ((t.exp_alerts ?? []).length > 0) entry.fires = true;
      else entry.silent = true;
      seen.set(t.alertname, entry);
    }
  }
  return seen;
}

describe("alert rules", () => {
  const alerts = allRules().filter((r) => r.alert);

  it.each(alerts.map((a) => [`${a.alert} (${a.labels?.severity})`, a]))("%s", (_n, rule) => {
    const name = rule.alert as string;
    expect(rule.labels?.severity, "severity").toMatch(/^(page|ticket)$/);
    expect(rule.annotations?.summary, "summary").toBeTruthy();
    expect(rule.annotations?.description, "description").toBeTruthy();
    expect(rule.annotations?.runbook_url).toBe(`${RUNBOOK_URL}${name}.md`);
    expect(existsSync(join(RUNBOOKS_DIR, `${name}.md`)), `ops/runbooks/${name}.md`).toBe(true);
    // on-call hears within minutes
    const forMinutes = rule.for
      ? Number.parseInt(rule.for, 10) / (rule.for.endsWith("s") ? 60 : 1)
      : 0;
    expect(rule.for ?? "0m").toMatch(/^\d+[sm]$/);
    expect(forMinutes).toBeLessThanOrEqual(5);
  });

  it("every alert has a promtool test where it fires and one where it stays silent", () => {
    const seen = coverage();
    const missing = [...new Set(alerts.map((a) => a.alert as string))].flatMap((name) => {
      const c = seen.get(name);
      return [
        ...(c?.fires ? [] : [`${name}: no firing case`]),
        ...(c?.silent ? [] : [`${name}: no silent case`]),
      ];
    });
    expect(missing).toEqual([]);
  });

  it("every runbook belongs to an alert", () => {
    const names = new Set(alerts.map((a) => `${a.alert}.md`));
    const orphans = listFiles(RUNBOOKS_DIR, ".md")
      .map((f) => f.slice(RUNBOOKS_DIR.length + 1))
      .filter((f) => f !== "README.md" && !names.has(f));
    expect(orphans).toEqual([]);
    expect(REPO_ROOT).toBeTruthy();
  });
});
