/**
 * Chaos, property-based (fast-check): random interleavings of checkouts, cart changes and
 * removals, stock and price changes, archiving, redeliveries of past messages under a new
 * msgID, process crashes and restarts, and orders frozen past the reservation TTL, against the
 * real stack; after each run the system settles with DESIGN.md's invariant intact.
 *
 * CHAOS_ITERATIONS (default 25): fast-check runs, 20 to 40 operations each.
 * CHAOS_SEED: replay the run fast-check reported.
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import { type Chaos, fromEnv, startChaos } from "./harness.ts";
import { checkRandomInterleavings, INTERLEAVING_ENV } from "./scenarios/random-interleavings.ts";

const numRuns = fromEnv("CHAOS_ITERATIONS", 25);

describe("random interleavings", () => {
  let chaos: Chaos;

  beforeAll(async () => {
    chaos = await startChaos({ env: INTERLEAVING_ENV });
  }, 120_000);
  afterAll(async () => {
    await chaos?.close();
  });

  it(`keeps the invariant over ${numRuns} random interleavings`, async () => {
    await checkRandomInterleavings(chaos, { numRuns, length: 40, maxFreezeMs: 3_500 });
  }, 3_600_000);
});
