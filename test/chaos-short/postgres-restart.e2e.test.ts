/**
 * Short version of the PostgreSQL half of test/chaos/broker-and-database-restart.chaos.test.ts:
 * a private cluster crashed (immediate stop) and restarted mid-burst; every checkout ends once,
 * nothing was published before its commit, every outbox drains.
 *
 * CHAOS_CHECKOUTS (default 40): checkouts in the burst, one customer each.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Chaos, fromEnv, startChaos } from "../chaos/harness.ts";
import {
  burstThroughFault,
  expectEveryRequestCommitted,
} from "../chaos/scenarios/burst-under-fault.ts";
import { startPrivatePostgres } from "../support/private-servers.ts";

const checkouts = fromEnv("CHAOS_CHECKOUTS", 40);
let pg: Awaited<ReturnType<typeof startPrivatePostgres>>;
let chaos: Chaos;

beforeAll(async () => {
  pg = await startPrivatePostgres();
  chaos = await startChaos({ postgresUrl: pg.url });
}, 120_000);
afterAll(async () => {
  await chaos?.close();
  await pg?.close();
});

it("ends every checkout exactly once when PostgreSQL crashes and restarts mid-burst", async () => {
  await burstThroughFault(chaos, { checkouts, strike: () => pg.restart({ mode: "immediate" }) });
  expect(await expectEveryRequestCommitted(chaos)).toBeGreaterThanOrEqual(checkouts);
}, 120_000);
