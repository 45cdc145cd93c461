import { describe, expect, it } from "vitest";
import {
  allRules,
  dashboardExpressions,
  dashboardFiles,
  exportedMetrics,
  type Located,
  metricNames,
  ruleExpressions,
} from "./promql.ts";

describe("metricNames (PromQL → metric names)", () => {
  it("keeps metric names and drops functions, keywords, labels, strings, ranges and variables", () => {
    expect(
      metricNames(
        `histogram_quantile(0.99, sum by (le, service) (rate(x_bucket{outcome="confirmed",le=~"1|1.0"}[$__rate_interval])))
         / on (service) group_left (team) max without (instance) (y offset 5m) > bool 1e3
         or label_replace(z, "dst", "$1", "src", "(.*)") unless absent(up{job="codflow"})
         and job:recorded:rate5m{service=~"$service"} * 2 + inf`,
      ).sort(),
    ).toEqual(["job:recorded:rate5m", "up", "x_bucket", "y", "z"]);
  });
});

describe("every PromQL expression of the rules and dashboards names only exported metrics", () => {
  const { names, prefixes } = exportedMetrics();
  const recorded = new Set(allRules().flatMap((r) => (r.record ? [r.record] : [])));
  const known = (name: string) =>
    names.has(name) || recorded.has(name) || prefixes.some((p) => name.startsWith(p));
  const unknownIn = (exprs: Located[]) =>
    exprs.flatMap(({ where, expr }) =>
      metricNames(expr)
        .filter((n) => !known(n))
        .map((n) => `${n} (${where})`),
    );

  it("reads a plausible exported set from the code", () => {
    for (const name of [
      "up",
      "codflow_http_requests_total",
      "codflow_http_request_duration_seconds_bucket",
      "codflow_consumer_messages_total",
      "codflow_notifications_total",
    ]) {
      expect(names, name).toContain(name);
    }
    expect(prefixes).toEqual(["process_", "nodejs_"]);
  });

  it("rule files", () => {
    const exprs = ruleExpressions();
    expect(exprs.length).toBeGreaterThan(10);
    expect(unknownIn(exprs), "metric names no service exports").toEqual([]);
  });

  it.each(dashboardFiles().map((f) => [f.split("/").pop() as string, f]))(
    "dashboard %s",
    (_name, file) => {
      const exprs = dashboardExpressions(file);
      expect(exprs.length).toBeGreaterThan(3);
      expect(unknownIn(exprs), "metric names no service exports").toEqual([]);
    },
  );
});
