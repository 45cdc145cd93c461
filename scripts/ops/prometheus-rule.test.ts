import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { RULES_DIR, renderPrometheusRule } from "./prometheus-rule.ts";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

describe("PrometheusRule generated from ops/prometheus/rules", () => {
  const source = parse(readFileSync(join(RULES_DIR, "codflow.rules.yml"), "utf8")) as {
    groups: Array<{ name: string; rules: unknown[] }>;
  };

  it("parses and carries every group and rule of the rule files, unchanged", () => {
    const doc = parse(renderPrometheusRule({ namespace: "shop", labels: { release: "kps" } }));
    expect(doc.apiVersion).toBe("monitoring.coreos.com/v1");
    expect(doc.kind).toBe("PrometheusRule");
    expect(doc.metadata).toEqual({
      name: "codflow",
      namespace: "shop",
      labels: { "app.kubernetes.io/part-of": "codflow", release: "kps" },
    });
    expect(doc.spec.groups.map((g: { name: string }) => g.name)).toEqual(
      source.groups.map((g) => g.name),
    );
    expect(doc.spec.groups).toEqual(source.groups);
    const alerts = doc.spec.groups.flatMap((g: { rules: Array<{ alert?: string }> }) =>
      g.rules.flatMap((r) => (r.alert ? [r.alert] : [])),
    );
    expect(new Set(alerts)).toEqual(
      new Set([
        "ServiceDown",
        "CheckoutStuckWarning",
        "CheckoutStuck",
        "DeadLettersPresent",
        "OutboxBacklogGrowing",
        "ConsumerLag",
        "CheckoutFailureRatioHigh",
        "ReservationExpiries",
        "NotificationsFailing",
        "SmsFailing",
        "CashMismatches",
        "CheckoutLatencySLOBurn",
      ]),
    );
  });

  it("prints the same document from the command line", () => {
    const out = execFileSync(
      process.execPath,
      ["--import", "tsx", "scripts/ops/prometheus-rule.ts", "--namespace", "shop"],
      { cwd: repoRoot, encoding: "utf8" },
    );
    expect(parse(out)).toEqual(parse(renderPrometheusRule({ namespace: "shop" })));
  });
});
