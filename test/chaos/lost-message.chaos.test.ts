/**
 * Chaos: messages lost for real. First, with orders down, every inventory.reserved message is
 * deleted from the INVENTORY stream before orders returns: the stalled checkouts are re-driven
 * from Postgres and each completes exactly once (one order, one email). Then the broker (a
 * private nats-server) is rebuilt empty mid-burst: the services re-create their streams and
 * consumers and the re-driver finishes every checkout.
 *
 * CHAOS_CHECKOUTS (default 200): checkouts in each burst, one customer each.
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import { startPrivateNats } from "../support/private-servers.ts";
import { type Chaos, fromEnv, startChaos } from "./harness.ts";
import { burstThroughFault } from "./scenarios/burst-under-fault.ts";
import { deletedReservedMessages } from "./scenarios/lost-message.ts";

const checkouts = fromEnv("CHAOS_CHECKOUTS", 200);

describe("lost messages", () => {
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

  it(`re-drives ${checkouts} checkouts whose inventory.reserved was deleted`, async () => {
    await deletedReservedMessages(chaos, { checkouts });
  }, 900_000);

  it(`finishes ${checkouts} checkouts when the broker is rebuilt empty mid-burst`, async () => {
    await burstThroughFault(chaos, {
      checkouts,
      at: 1 / 3,
      strike: () => nats.restart({ wipe: true }),
    });
  }, 900_000);
});
