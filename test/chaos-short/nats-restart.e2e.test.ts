/**
 * Short version of the NATS half of test/chaos/broker-and-database-restart.chaos.test.ts: a
 * private nats-server restarted mid-burst; every checkout ends once, nothing was published
 * before its commit, every outbox drains.
 *
 * CHAOS_CHECKOUTS (default 40): checkouts in the burst, one customer each.
 */
import { expect, it } from "vitest";
import { chaosOnPrivateNats, fromEnv } from "../chaos/harness.ts";
import {
  burstThroughFault,
  expectEveryRequestCommitted,
} from "../chaos/scenarios/burst-under-fault.ts";

const checkouts = fromEnv("CHAOS_CHECKOUTS", 40);
const rig = chaosOnPrivateNats();

it("ends every checkout exactly once when NATS restarts mid-burst", async () => {
  await burstThroughFault(rig.chaos, { checkouts, strike: () => rig.nats.restart() });
  expect(await expectEveryRequestCommitted(rig.chaos)).toBeGreaterThanOrEqual(checkouts);
}, 120_000);
