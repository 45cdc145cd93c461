/**
 * Short version of test/chaos/lost-message.chaos.test.ts: inventory.reserved messages deleted
 * while orders is down, then the broker rebuilt empty mid-burst; the re-driver finishes every
 * checkout exactly once (one order, one email each).
 *
 * CHAOS_CHECKOUTS (default 30): checkouts in each burst, one customer each.
 */
import { describe, it } from "vitest";
import { chaosOnPrivateNats, fromEnv } from "../chaos/harness.ts";
import { burstThroughFault } from "../chaos/scenarios/burst-under-fault.ts";
import { deletedReservedMessages } from "../chaos/scenarios/lost-message.ts";

const checkouts = fromEnv("CHAOS_CHECKOUTS", 30);
const rig = chaosOnPrivateNats();

describe("lost messages", () => {
  it("re-drives checkouts whose inventory.reserved was deleted from the stream", async () => {
    await deletedReservedMessages(rig.chaos, { checkouts });
  }, 120_000);

  it("finishes every checkout when the broker is rebuilt empty mid-burst", async () => {
    await burstThroughFault(rig.chaos, {
      checkouts,
      at: 1 / 3,
      strike: () => rig.nats.restart({ wipe: true }),
    });
  }, 120_000);
});
