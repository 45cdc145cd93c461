/** Pure timing rules of the benchmark: when each request leaves, and how `--step` climbs. */

/**
 * Send times (ms after the start) of an open-loop arrival at `rate` requests/s for `seconds`:
 * evenly spaced, request i at i/rate s, so the offered load never depends on the answers.
 */
export function arrivalOffsets(rate: number, seconds: number): number[] {
  if (!(rate > 0) || !(seconds > 0)) throw new Error("rate and duration must be positive");
  const count = Math.round(rate * seconds);
  return Array.from({ length: count }, (_, i) => (i * 1000) / rate);
}

/** How many scheduled requests are due at `elapsedMs`, given `sent` already left. */
export function dueCount(offsets: readonly number[], sent: number, elapsedMs: number): number {
  let due = sent;
  while (due < offsets.length && (offsets[due] as number) <= elapsedMs) due++;
  return due - sent;
}

export interface StepResult {
  rate: number;
  p99Ms: number;
  /** HTTP errors plus checkouts that did not confirm for a reason other than stock. */
  errors: number;
}

export interface StepRule {
  p99LimitMs: number;
}

/** A step is good while its p99 is within the limit and nothing went wrong. */
export const stepIsGood = (step: StepResult, { p99LimitMs }: StepRule) =>
  step.errors === 0 && step.p99Ms <= p99LimitMs;

/**
 * The knee of a `--step` run: the last rate before the first bad step (undefined when the first
 * step was already bad), and whether the climb stopped because a step went bad.
 */
export function kneeOf(
  steps: readonly StepResult[],
  rule: StepRule,
): { knee: number | undefined; stoppedAt: number | undefined } {
  let knee: number | undefined;
  for (const step of steps) {
    if (!stepIsGood(step, rule)) return { knee, stoppedAt: step.rate };
    knee = step.rate;
  }
  return { knee, stoppedAt: undefined };
}

/** The rates of a `--step` climb: `start`, `start + increment`, … up to `max` inclusive. */
export function stepRates(start: number, increment: number, max: number): number[] {
  if (!(start > 0) || !(increment > 0)) throw new Error("start and increment must be positive");
  const rates: number[] = [];
  for (let rate = start; rate <= max; rate += increment) rates.push(rate);
  return rates;
}
