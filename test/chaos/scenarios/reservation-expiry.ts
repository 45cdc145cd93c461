import { expect } from "vitest";
import { fireCheckouts, makeShoppers, seedCatalog } from "../../support/burst.ts";
import { type Chaos, expectSettled, explained } from "../harness.ts";

/** What the expiry tests need from the stack: reservations that expire after one second. */
export const SHORT_RESERVATIONS = { RESERVATION_TTL_SECONDS: "1" } as const;

/** Freezes a running service for real (SIGSTOP) for `ms`, then lets it go on (SIGCONT). */
export async function freeze(
  chaos: Chaos,
  service: "orders",
  ms: number,
  during: () => Promise<void>,
) {
  const pid = chaos.stack.pid(service);
  const frozenAt = Date.now();
  process.kill(pid, "SIGSTOP");
  try {
    await during();
    // The freeze itself is the fault being injected, not a way to wait for something.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, frozenAt + ms - Date.now())));
  } finally {
    process.kill(pid, "SIGCONT");
  }
}

/**
 * Rounds of checkouts placed while orders is frozen for 1.5–3 s (varying per round, so the
 * sweeper and the late `inventory.reserved` meet in different orders): reservations expire under
 * the frozen orders service and those checkouts fail `reservation_expired`. After each round the
 * system settles with the invariant intact — never an order without committed stock, never a
 * failed checkout with a live order — and every customer got exactly one email.
 */
export async function expiryRaces(
  chaos: Chaos,
  { rounds, checkouts }: { rounds: number; checkouts: number },
) {
  const { api, admin } = chaos;
  const catalog = await seedCatalog(api, admin, {
    scarceStock: Math.max(2, Math.floor(checkouts / 20)),
  });
  const perRound = Math.max(1, Math.ceil(checkouts / rounds));
  const reasons: Record<string, number> = {};
  for (let round = 0; round < rounds; round++) {
    const shoppers = await makeShoppers(api, chaos.stack.sms, catalog, perRound);
    let burst: Awaited<ReturnType<typeof fireCheckouts>> | undefined;
    await freeze(chaos, "orders", 1500 + ((round * 700) % 1500), async () => {
      burst = await explained(chaos, fireCheckouts(api, shoppers));
    });
    const outcome = await expectSettled(chaos, burst as NonNullable<typeof burst>, { shoppers });
    for (const [reason, n] of Object.entries(outcome.byReason))
      reasons[reason] = (reasons[reason] ?? 0) + n;
  }
  expect(reasons.reservation_expired).toBeGreaterThan(0);
  return reasons;
}
