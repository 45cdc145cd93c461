/**
 * Chaos: the broker (a private nats-server, store kept) and, separately, the database (a
 * private PostgreSQL cluster, stopped in immediate mode: a crash) restarted mid-burst. Every
 * checkout ends once with the invariant intact; nothing was published before its transaction
 * committed (every checkout.requested in the stream names a checkout in checkout's database);
 * nothing committed is left unpublished (every outbox drains).
 *
 * CHAOS_CHECKOUTS (default 200): checkouts in each burst, one customer each.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPrivatePostgres } from "../support/private-servers.ts";
import { type Chaos, chaosOnPrivateNats, fromEnv, startChaos } from "./harness.ts";
import { burstThroughFault, expectEveryRequestCommitted } from "./scenarios/burst-under-fault.ts";

const checkouts = fromEnv("CHAOS_CHECKOUTS", 200);

describe("infrastructure restarted mid-burst", () => {
  describe("NATS", () => {
    const rig = chaosOnPrivateNats();

    it(`ends every one of ${checkouts} checkouts exactly once`, async () => {
      await burstThroughFault(rig.chaos, { checkouts, strike: () => rig.nats.restart() });
      expect(await expectEveryRequestCommitted(rig.chaos)).toBeGreaterThanOrEqual(checkouts);
    }, 900_000);
  });

  describe("PostgreSQL, crashed", () => {
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

    it(`ends every one of ${checkouts} checkouts exactly once`, async () => {
      await burstThroughFault(chaos, {
        checkouts,
        strike: () => pg.restart({ mode: "immediate" }),
      });
      expect(await expectEveryRequestCommitted(chaos)).toBeGreaterThanOrEqual(checkouts);
    }, 900_000);
  });
});
