import { describe, expect, it } from "vitest";
import { decideAutoDisable, type IncidentFacts } from "./auto-disable.ts";

const rules = { threshold: 2, windowDays: 90 };
const now = new Date("2026-06-01T12:00:00Z");
const daysAgo = (days: number) => new Date(now.getTime() - days * 24 * 60 * 60 * 1000);
const facts = (over: Partial<IncidentFacts>): IncidentFacts => ({
  codDisabled: false,
  incidentTimes: [],
  countedSince: null,
  now,
  ...over,
});

describe("decideAutoDisable", () => {
  it("disables at the second incident within 90 days, with the reason", () => {
    expect(decideAutoDisable(facts({ incidentTimes: [daysAgo(10)] }), rules)).toEqual({
      disable: false,
    });
    expect(decideAutoDisable(facts({ incidentTimes: [daysAgo(80), daysAgo(1)] }), rules)).toEqual({
      disable: true,
      reason: "2 failed or returned COD deliveries in 90 days",
      incidents: 2,
    });
  });

  it("does not count incidents older than the window", () => {
    const decision = decideAutoDisable(facts({ incidentTimes: [daysAgo(91), daysAgo(1)] }), rules);
    expect(decision).toEqual({ disable: false });
  });

  it("does not count incidents from before an admin lifted the disable", () => {
    const incidentTimes = [daysAgo(20), daysAgo(10), daysAgo(1)];
    expect(decideAutoDisable(facts({ incidentTimes, countedSince: daysAgo(5) }), rules)).toEqual({
      disable: false,
    });
    expect(decideAutoDisable(facts({ incidentTimes, countedSince: daysAgo(15) }), rules)).toEqual(
      expect.objectContaining({ disable: true, incidents: 2 }),
    );
  });

  it("leaves an account that is already disabled as it is", () => {
    const decision = decideAutoDisable(
      facts({ codDisabled: true, incidentTimes: [daysAgo(2), daysAgo(1)] }),
      rules,
    );
    expect(decision).toEqual({ disable: false });
  });

  it("follows a configured threshold and window", () => {
    const incidentTimes = [daysAgo(25), daysAgo(2), daysAgo(1)];
    expect(decideAutoDisable(facts({ incidentTimes }), { threshold: 3, windowDays: 30 })).toEqual(
      expect.objectContaining({
        disable: true,
        reason: "3 failed or returned COD deliveries in 30 days",
      }),
    );
    expect(decideAutoDisable(facts({ incidentTimes }), { threshold: 3, windowDays: 7 })).toEqual({
      disable: false,
    });
  });
});
