import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { RULES_DIR, readRuleGroups } from "../../scripts/ops/prometheus-rule.ts";
import {
  DASHBOARDS_DIR,
  MONITORING_DIR,
  renderDashboardsManifest,
  staleFiles,
} from "./generate-monitoring.ts";

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  spec?: { groups?: unknown[] };
}

const committed = (file: string): Manifest[] =>
  parseAllDocuments(readFileSync(join(MONITORING_DIR, file), "utf8"))
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((doc): doc is Manifest => doc !== null);

describe("k8s/base/monitoring, generated from ops/", () => {
  const scratch: string[] = [];
  afterEach(() => {
    for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("is what ops/ gives now (else run node --import tsx k8s/scripts/generate-monitoring.ts)", () => {
    expect(staleFiles()).toEqual([]);
  });

  it("carries every alert and recording rule of ops/prometheus/rules as one PrometheusRule", () => {
    const [rule, ...rest] = committed("prometheus-rule.generated.yaml");
    expect(rest).toEqual([]);
    expect(rule?.apiVersion).toBe("monitoring.coreos.com/v1");
    expect(rule?.kind).toBe("PrometheusRule");
    expect(rule?.spec?.groups).toEqual(readRuleGroups(RULES_DIR));
  });

  it("carries each Grafana dashboard unchanged in a ConfigMap the dashboard sidecar picks up", () => {
    const dashboards = readdirSync(DASHBOARDS_DIR).filter((f) => f.endsWith(".json"));
    const configMaps = committed("grafana-dashboards.generated.yaml");
    expect(configMaps).toHaveLength(dashboards.length);
    for (const file of dashboards) {
      const configMap = configMaps.find((cm) => cm.data?.[file] !== undefined);
      expect(configMap, file).toBeDefined();
      expect(configMap?.kind).toBe("ConfigMap");
      expect(configMap?.metadata.labels?.grafana_dashboard).toBe("1");
      expect(configMap?.data?.[file]).toBe(readFileSync(join(DASHBOARDS_DIR, file), "utf8"));
    }
  });

  it("notices a dashboard changed in ops/ that the committed copy does not have", () => {
    const dir = mkdtempSync(join(tmpdir(), "codflow-dashboards-"));
    scratch.push(dir);
    for (const file of readdirSync(DASHBOARDS_DIR)) {
      writeFileSync(join(dir, file), readFileSync(join(DASHBOARDS_DIR, file)));
    }
    const [first] = readdirSync(dir).filter((f) => f.endsWith(".json"));
    const dashboard = JSON.parse(readFileSync(join(dir, first as string), "utf8"));
    writeFileSync(join(dir, first as string), JSON.stringify({ ...dashboard, title: "renamed" }));
    expect(renderDashboardsManifest(dir)).not.toBe(
      readFileSync(join(MONITORING_DIR, "grafana-dashboards.generated.yaml"), "utf8"),
    );
  });

  it("refuses a dashboard without a uid (Grafana would duplicate it on every reload)", () => {
    const dir = mkdtempSync(join(tmpdir(), "codflow-dashboards-"));
    scratch.push(dir);
    writeFileSync(join(dir, "broken.json"), JSON.stringify({ title: "no uid" }));
    expect(() => renderDashboardsManifest(dir)).toThrow(/broken\.json: dashboard has no uid/);
  });
});
