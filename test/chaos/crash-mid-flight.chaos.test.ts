/**
 * Chaos: one service SIGKILLed a quarter of the way through a burst and started again (one run
 * per service, each on a stack of its own). While checkout is down the gateway answers 502 and
 * the storefront retries with the same Idempotency-Key. Every checkout ends once, no order is
 * made twice, the invariant holds and each customer gets exactly one email.
 *
 * CHAOS_CHECKOUTS (default 200): checkouts in the burst, one customer each.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Chaos, fromEnv, startChaos } from "./harness.ts";
import { burstThroughFault, crashAndRestart } from "./scenarios/burst-under-fault.ts";

const checkouts = fromEnv("CHAOS_CHECKOUTS", 200);

describe("a service crashing mid-burst", () => {
  describe.each(["orders", "inventory", "checkout"] as const)("%s", (service) => {
    let chaos: Chaos;
    beforeAll(async () => {
      chaos = await startChaos();
    }, 120_000);
    afterAll(async () => {
      await chaos?.close();
    });

    it(`ends every one of ${checkouts} checkouts exactly once`, async () => {
      const { burst } = await burstThroughFault(chaos, {
        checkouts,
        strike: crashAndRestart(chaos, service),
      });
      if (service === "checkout") expect(Object.keys(burst.retries)).not.toEqual([]);
    }, 900_000);
  });
});
