import { describe, expect, it } from "vitest";
import { EARLY_RETRY_DELAYS_MS, retryDelay } from "./consume.ts";
import { RetryableError, TooEarlyError } from "./errors.ts";

const backoff = { baseBackoffMs: 500, maxBackoffMs: 30_000 };
const schedule = (error: Error, deliveries: number) =>
  Array.from({ length: deliveries }, (_, i) => retryDelay(error, i + 1, backoff));

describe("retryDelay", () => {
  it("backs a retryable failure off exponentially from the base, up to the cap, every delivery counted", () => {
    expect(schedule(new RetryableError("database away"), 8)).toEqual([
      { delayMs: 500, counted: 1 },
      { delayMs: 1_000, counted: 2 },
      { delayMs: 2_000, counted: 3 },
      { delayMs: 4_000, counted: 4 },
      { delayMs: 8_000, counted: 5 },
      { delayMs: 16_000, counted: 6 },
      { delayMs: 30_000, counted: 7 },
      { delayMs: 30_000, counted: 8 },
    ]);
  });

  it("retries an event that came too early soon at first, then as any other, its quick retries not counted", () => {
    const quick = EARLY_RETRY_DELAYS_MS.length;
    const early = schedule(new TooEarlyError("contacts not here yet"), quick + 3);
    expect(early.slice(0, quick)).toEqual(
      EARLY_RETRY_DELAYS_MS.map((delayMs) => ({ delayMs, counted: 0 })),
    );
    expect(EARLY_RETRY_DELAYS_MS.every((ms) => ms < backoff.baseBackoffMs)).toBe(true);
    // afterwards the same schedule a retryable failure has from its first delivery
    expect(early.slice(quick)).toEqual(schedule(new RetryableError("x"), 3));
  });
});
