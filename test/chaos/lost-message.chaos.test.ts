/**
 * Chaos: messages lost for real. First, with orders down, every inventory.reserved message is
 * deleted from the INVENTORY stream before orders returns: the stalled checkouts are re-driven
 * from Postgres and each completes exactly once (one order, one email). Then the broker (a
 * private nats-server) is rebuilt empty mid-burst: the services re-create their streams and
 * consumers and the re-driver finishes every checkout.
 *
 * CHAOS_CHECKOUTS (default 200): checkouts in each burst, one customer each.
 */
import { describe, it } from "vitest";
import { chaosOnPrivateNats, fromEnv } from "./harness.ts";
import { burstThroughFault } from "./scenarios/burst-under-fault.ts";
import { deletedReservedMessages } from "./scenarios/lost-message.ts";

const checkouts = fromEnv("CHAOS_CHECKOUTS", 200);

describe("lost messages", () => {
  const rig = chaosOnPrivateNats();

  it(`re-drives ${checkouts} checkouts whose inventory.reserved was deleted`, async () => {
    await deletedReservedMessages(rig.chaos, { checkouts });
  }, 900_000);

  it(`finishes ${checkouts} checkouts when the broker is rebuilt empty mid-burst`, async () => {
    await burstThroughFault(rig.chaos, {
      checkouts,
      at: 1 / 3,
      strike: () => rig.nats.restart({ wipe: true }),
    });
  }, 900_000);
});
