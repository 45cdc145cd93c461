/**
 * Whether a customer's failed and returned COD deliveries disable COD for them: a pure decision.
 * Only incidents inside the window, and after an admin last lifted a disable, count.
 */
export interface IncidentFacts {
  codDisabled: boolean;
  /** When each of the customer's incidents (one per order) happened. */
  incidentTimes: readonly Date[];
  /** When an admin last lifted a disable, if ever. */
  countedSince: Date | null;
  now: Date;
}

export interface AutoDisableRules {
  threshold: number;
  windowDays: number;
}

export type AutoDisableDecision =
  | { disable: false }
  | { disable: true; reason: string; incidents: number };

const DAY_MS = 24 * 60 * 60 * 1000;

export function decideAutoDisable(
  facts: IncidentFacts,
  { threshold, windowDays }: AutoDisableRules,
): AutoDisableDecision {
  if (facts.codDisabled) return { disable: false };
  const windowStart = facts.now.getTime() - windowDays * DAY_MS;
  const countedAfter = Math.max(windowStart, facts.countedSince?.getTime() ?? 0);
  const counted = facts.incidentTimes.filter((t) => {
    const at = t.getTime();
    return at > countedAfter && at <= facts.now.getTime();
  }).length;
  if (counted < threshold) return { disable: false };
  return {
    disable: true,
    reason: `${counted} failed or returned COD deliveries in ${windowDays} days`,
    incidents: counted,
  };
}
