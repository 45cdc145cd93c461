/**
 * Short version of the NATS half of test/chaos/broker-and-database-restart.chaos.test.ts: a
 * private nats-server restarted mid-burst; every checkout ends once, nothing was published
 * before its commit, every outbox drains.
 *
 * CHAOS_CHECKOUTS (default 40): checkouts in the burst, one customer each.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Chaos, fromEnv, startChaos } from "../chaos/harness.ts";
import {
  burstThroughFault,
  expectEveryRequestCommitted,
} from "../chaos/scenarios/burst-under-fault.ts";
import { startPrivateNats } from "../support/private-servers.ts";

const checkouts = fromEnv("CHAOS_CHECKOUTS", 40);
let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let chaos: Chaos;

beforeAll(async () => {
  nats = await startPrivateNats();
  chaos = await startChaos({ natsUrl: nats.url });
}, 120_000);
afterAll(async () => {
  await chaos?.close();
  await nats?.close();
});

it("ends every checkout exactly once when NATS restarts mid-burst", async () => {
  await burstThroughFault(chaos, { checkouts, strike: () => nats.restart() });
  expect(await expectEveryRequestCommitted(chaos)).toBeGreaterThanOrEqual(checkouts);
}, 120_000);
