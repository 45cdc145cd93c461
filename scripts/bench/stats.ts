/** Pure statistics of the benchmark's samples. */

/** The nearest-rank percentile `p` (0–100) of `values`; NaN when there are none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

export interface Distribution {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] as number),
  };
}

/** Counts of each key, e.g. `tally(["a", "b", "a"])` → `{a: 2, b: 1}`. */
export function tally(keys: Iterable<string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const key of keys) counts[key] = (counts[key] ?? 0) + 1;
  return counts;
}

/** How many of `times` (ms) fall in [from, to), divided by the window in seconds. */
export function ratePerSecond(times: readonly number[], from: number, to: number): number {
  const inWindow = times.filter((t) => t >= from && t < to).length;
  return inWindow / ((to - from) / 1000);
}
