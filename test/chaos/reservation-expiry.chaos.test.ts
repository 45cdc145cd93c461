/**
 * Chaos: reservations expiring under a frozen orders service (SIGSTOP for 1.5–3 s, then
 * SIGCONT) with RESERVATION_TTL_SECONDS=1, over many rounds. Checkouts whose reservation expired
 * fail `reservation_expired` and their customers are told; however the sweeper and the late
 * order meet, there is never an order without committed stock and never a failed checkout with
 * a live order.
 *
 * CHAOS_CHECKOUTS (default 200): checkouts over all rounds, one customer each.
 * CHAOS_ITERATIONS (default 10): rounds, each settling and checking the invariant.
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import { type Chaos, fromEnv, startChaos } from "./harness.ts";
import { expiryRaces, SHORT_RESERVATIONS } from "./scenarios/reservation-expiry.ts";

const checkouts = fromEnv("CHAOS_CHECKOUTS", 200);
const rounds = fromEnv("CHAOS_ITERATIONS", 10);

describe("reservations expiring under a frozen orders service", () => {
  let chaos: Chaos;

  beforeAll(async () => {
    chaos = await startChaos({ env: SHORT_RESERVATIONS });
  }, 120_000);
  afterAll(async () => {
    await chaos?.close();
  });

  it(`resolves the expiry race consistently over ${rounds} rounds`, async () => {
    await expiryRaces(chaos, { rounds, checkouts });
  }, 1_800_000);
});
