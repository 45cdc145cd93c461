import { describe, expect, it } from "vitest";
import { distribution, percentile, ratePerSecond, tally } from "./stats.ts";

describe("the benchmark's statistics", () => {
  it("takes nearest-rank percentiles", () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile(sorted, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it("summarises unsorted samples", () => {
    expect(distribution([30, 10, 20, 1000])).toEqual({
      count: 4,
      p50: 20,
      p95: 1000,
      p99: 1000,
      max: 1000,
    });
    expect(distribution([]).count).toBe(0);
  });

  it("tallies keys", () => {
    expect(tally(["503", "429", "503"])).toEqual({ "503": 2, "429": 1 });
  });

  it("counts only the events inside the window for a rate", () => {
    // 3 inside [1000, 3000), one before, one at the end (excluded): 3 per 2 s
    expect(ratePerSecond([500, 1000, 1500, 2999, 3000], 1000, 3000)).toBe(1.5);
  });
});
