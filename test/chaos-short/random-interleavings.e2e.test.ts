/**
 * Short version of test/chaos/random-interleavings.chaos.test.ts: a few fast-check runs of
 * random checkouts, cart, stock and price changes, archiving, redeliveries, crashes and
 * frozen orders against the real stack; the invariant holds after each.
 *
 * CHAOS_ITERATIONS (default 4): fast-check runs, 8 to 16 operations each.
 * CHAOS_SEED: replay the run fast-check reported.
 */
import { afterAll, beforeAll, it } from "vitest";
import { type Chaos, fromEnv, startChaos } from "../chaos/harness.ts";
import {
  checkRandomInterleavings,
  INTERLEAVING_ENV,
} from "../chaos/scenarios/random-interleavings.ts";

const numRuns = fromEnv("CHAOS_ITERATIONS", 4);
let chaos: Chaos;

beforeAll(async () => {
  chaos = await startChaos({ env: INTERLEAVING_ENV });
}, 120_000);
afterAll(async () => {
  await chaos?.close();
});

it("keeps the invariant over random interleavings", async () => {
  await checkRandomInterleavings(chaos, { numRuns, length: 16, maxFreezeMs: 2_500 });
}, 120_000);
