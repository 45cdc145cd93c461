/**
 * Short version of test/chaos/crash-mid-flight.chaos.test.ts: on one stack, a burst per service
 * with that service SIGKILLed mid-burst and restarted; every checkout ends once, invariant holds.
 *
 * CHAOS_CHECKOUTS (default 40): checkouts per burst, one customer each.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Chaos, fromEnv, startChaos } from "../chaos/harness.ts";
import { burstThroughFault, crashAndRestart } from "../chaos/scenarios/burst-under-fault.ts";

const checkouts = fromEnv("CHAOS_CHECKOUTS", 40);
let chaos: Chaos;

beforeAll(async () => {
  chaos = await startChaos();
}, 120_000);
afterAll(async () => {
  await chaos?.close();
});

describe("a service crashing mid-burst", () => {
  it.each(["orders", "inventory", "checkout"] as const)(
    "%s: every checkout ends exactly once, no duplicate order, the ledger adds up",
    async (service) => {
      const { burst } = await burstThroughFault(chaos, {
        checkouts,
        strike: crashAndRestart(chaos, service),
      });
      if (service === "checkout") expect(Object.keys(burst.retries)).not.toEqual([]);
    },
    120_000,
  );
});
