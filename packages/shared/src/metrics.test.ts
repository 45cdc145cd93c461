import { describe, expect, it } from "vitest";
import { createMetrics } from "./metrics.ts";
import { metricValue } from "./testing/metrics.ts";

describe("scrape-time gauges", () => {
  it("read once per scrape for the whole group, and keep the last values when the read fails", async () => {
    const metrics = createMetrics("metrics-test");
    let reads = 0;
    let failing = false;
    metrics.scrapeGauges(
      { a: ["test_a", "a"], b: ["test_b", "b"] },
      async () => {
        reads += 1;
        if (failing) throw new Error("database down");
        return { a: reads, b: reads * 10 };
      },
      () => undefined,
    );

    let text = await metrics.registry.metrics();
    expect(reads).toBe(1);
    expect([metricValue(text, "test_a"), metricValue(text, "test_b")]).toEqual([1, 10]);

    failing = true;
    text = await metrics.registry.metrics();
    expect(reads).toBe(2);
    expect([metricValue(text, "test_a"), metricValue(text, "test_b")]).toEqual([1, 10]);
  });
});
