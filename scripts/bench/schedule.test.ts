import { describe, expect, it } from "vitest";
import { arrivalOffsets, dueCount, kneeOf, stepIsGood, stepRates } from "./schedule.ts";

describe("the open-loop arrival schedule", () => {
  it("spaces rate × seconds requests evenly, the first at once", () => {
    const offsets = arrivalOffsets(4, 2);
    expect(offsets).toEqual([0, 250, 500, 750, 1000, 1250, 1500, 1750]);
  });

  it("rounds a fractional count and refuses a rate or duration that is not positive", () => {
    expect(arrivalOffsets(3, 0.5)).toHaveLength(2);
    expect(() => arrivalOffsets(0, 10)).toThrow();
    expect(() => arrivalOffsets(10, -1)).toThrow();
  });

  it("releases every request whose time has come, however late the loop woke up", () => {
    const offsets = arrivalOffsets(1000, 1);
    expect(dueCount(offsets, 0, 0)).toBe(1);
    expect(dueCount(offsets, 1, 0.5)).toBe(0);
    // a loop that slept 120 ms sends the whole backlog at once (no coordinated omission)
    expect(dueCount(offsets, 1, 120)).toBe(120);
    expect(dueCount(offsets, 990, 5_000)).toBe(10);
  });
});

describe("the --step climb", () => {
  const rule = { p99LimitMs: 250 };

  it("climbs from start by increment up to the maximum", () => {
    expect(stepRates(100, 100, 450)).toEqual([100, 200, 300, 400]);
    expect(() => stepRates(100, 0, 500)).toThrow();
  });

  it("calls a step good only with p99 within the limit and no error", () => {
    expect(stepIsGood({ rate: 100, p99Ms: 250, errors: 0 }, rule)).toBe(true);
    expect(stepIsGood({ rate: 100, p99Ms: 250.1, errors: 0 }, rule)).toBe(false);
    expect(stepIsGood({ rate: 100, p99Ms: 10, errors: 1 }, rule)).toBe(false);
  });

  it("puts the knee at the last good rate before the first bad step", () => {
    const steps = [
      { rate: 100, p99Ms: 40, errors: 0 },
      { rate: 200, p99Ms: 90, errors: 0 },
      { rate: 300, p99Ms: 400, errors: 0 },
      { rate: 400, p99Ms: 100, errors: 0 },
    ];
    expect(kneeOf(steps, rule)).toEqual({ knee: 200, stoppedAt: 300 });
  });

  it("has no knee when the first step is bad, and no stop when none is", () => {
    expect(kneeOf([{ rate: 100, p99Ms: 10, errors: 3 }], rule)).toEqual({
      knee: undefined,
      stoppedAt: 100,
    });
    expect(kneeOf([{ rate: 100, p99Ms: 10, errors: 0 }], rule)).toEqual({
      knee: 100,
      stoppedAt: undefined,
    });
  });
});
