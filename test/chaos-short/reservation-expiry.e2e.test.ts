/**
 * Short version of test/chaos/reservation-expiry.chaos.test.ts: orders frozen (SIGSTOP) past
 * a one-second reservation TTL; the checkouts fail `reservation_expired`, customers are told,
 * and no order stands without committed stock.
 *
 * CHAOS_CHECKOUTS (default 30): checkouts over all rounds, one customer each.
 * CHAOS_ITERATIONS (default 2): rounds, each settling and checking the invariant.
 */
import { afterAll, beforeAll, it } from "vitest";
import { type Chaos, fromEnv, startChaos } from "../chaos/harness.ts";
import { expiryRaces, SHORT_RESERVATIONS } from "../chaos/scenarios/reservation-expiry.ts";

const checkouts = fromEnv("CHAOS_CHECKOUTS", 30);
const rounds = fromEnv("CHAOS_ITERATIONS", 2);
let chaos: Chaos;

beforeAll(async () => {
  chaos = await startChaos({ env: SHORT_RESERVATIONS });
}, 120_000);
afterAll(async () => {
  await chaos?.close();
});

it("fails expired checkouts consistently while orders is frozen", async () => {
  await expiryRaces(chaos, { rounds, checkouts });
}, 120_000);
