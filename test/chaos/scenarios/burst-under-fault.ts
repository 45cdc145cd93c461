import postgres from "postgres";
import { expect } from "vitest";
import { fireCheckouts, makeShoppers, seedCatalog } from "../../support/burst.ts";
import type { BackendName } from "../../support/stack.ts";
import { connectTestBroker, storedMessages } from "../../support/streams.ts";
import { type Chaos, expectSettled, explained } from "../harness.ts";

/**
 * Runs `strike` once `at` (0..1) of the checkouts have been accepted; `done()` resolves when the
 * strike is over (and throws its error), so a burst never leaves a fault half-applied.
 */
export function strikeAt(checkouts: number, at: number, strike: () => Promise<void>) {
  let outcome: Promise<unknown> | undefined;
  return {
    onAccepted(count: number) {
      if (!outcome && count >= Math.max(1, Math.floor(checkouts * at))) {
        outcome = strike().then(
          () => undefined,
          (err: unknown) => err,
        );
      }
    },
    async done() {
      if (!outcome) throw new Error("the burst ended before the fault was injected");
      const err = await outcome;
      if (err) throw err;
    },
  };
}

/**
 * A burst of `checkouts` from as many customers (some wanting scarce stock) with `strike`
 * injected a quarter of the way through; then the settled outcome every chaos test demands, and
 * proof that the burst really went through the fault and both outcomes happened.
 */
export async function burstThroughFault(
  chaos: Chaos,
  { checkouts, strike, at = 0.25 }: { checkouts: number; strike: () => Promise<void>; at?: number },
) {
  const { api, admin } = chaos;
  const catalog = await seedCatalog(api, admin, {
    scarceStock: Math.max(2, Math.floor(checkouts / 20)),
  });
  const shoppers = await makeShoppers(api, chaos.stack.sms, catalog, checkouts);
  const fault = strikeAt(checkouts, at, strike);
  const burst = await explained(
    chaos,
    fireCheckouts(api, shoppers, { onAccepted: fault.onAccepted }),
  );
  await fault.done();
  const outcome = await expectSettled(chaos, burst, { shoppers });
  expect(burst.accepted).toHaveLength(checkouts);
  expect(outcome.byStatus.confirmed).toBeGreaterThan(0);
  expect(outcome.byReason.out_of_stock).toBeGreaterThan(0);
  return { burst, outcome };
}

/** SIGKILLs one service mid-burst and starts it again. */
export const crashAndRestart = (chaos: Chaos, service: BackendName) => async () => {
  await chaos.stack.kill(service, "SIGKILL");
  await chaos.stack.start(service);
};

/**
 * "Nothing is published before its transaction commits": every checkout.requested message the
 * broker holds names a checkout that exists in checkout's database. Returns how many it read.
 */
export async function expectEveryRequestCommitted(chaos: Chaos) {
  const { stack } = chaos;
  const broker = await connectTestBroker(stack.natsUrl, stack.namespace);
  const sql = postgres(stack.databaseUrls.checkout, { max: 1, onnotice: () => {} });
  try {
    const requested = await storedMessages(broker, "checkout", { type: "checkout.requested" });
    const named = [...new Set(requested.map((m) => String(m.envelope.data.checkoutId)))];
    const existing = await sql<{ id: string }[]>`
      select id from checkouts where id = any(${named}::uuid[])`;
    const known = new Set(existing.map((r) => r.id));
    expect(named.filter((id) => !known.has(id))).toEqual([]);
    return named.length;
  } finally {
    await sql.end();
    await broker.close();
  }
}
