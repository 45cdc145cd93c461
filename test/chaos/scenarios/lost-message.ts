import { waitFor } from "@codflow/shared/testing";
import postgres from "postgres";
import { expect } from "vitest";
import { fireCheckouts, makeShoppers, seedCatalog } from "../../support/burst.ts";
import { connectTestBroker, storedMessages } from "../../support/streams.ts";
import { type Chaos, expectSettled, explained } from "../harness.ts";

/**
 * Loses a hop for real: with orders down, inventory's answers pile up in the INVENTORY stream;
 * every `inventory.reserved` message is deleted from it before orders comes back. Only the
 * re-driver (which re-sends from Postgres) can finish those checkouts — each of them must show a
 * re-drive — and each completes exactly once: one order and one email per customer.
 */
export async function deletedReservedMessages(chaos: Chaos, { checkouts }: { checkouts: number }) {
  const { api, admin, stack } = chaos;
  const catalog = await seedCatalog(api, admin, {
    scarceStock: Math.max(2, Math.floor(checkouts / 20)),
  });
  const shoppers = await makeShoppers(api, chaos.stack.sms, catalog, checkouts);
  await stack.kill("orders", "SIGKILL");
  const burst = await explained(chaos, fireCheckouts(api, shoppers));
  const broker = await connectTestBroker(stack.natsUrl, stack.namespace);
  const deleted: string[] = [];
  try {
    const answered = await waitFor(
      async () => {
        const answers = [
          ...(await storedMessages(broker, "inventory", { type: "inventory.reserved" })),
          ...(await storedMessages(broker, "inventory", { type: "inventory.rejected" })),
        ];
        const covered = new Set(answers.map((m) => String(m.envelope.data.checkoutId)));
        return burst.accepted.every((a) => covered.has(a.checkoutId)) && answers;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: "inventory to answer every checkout" },
    );
    for (const message of answered.filter((m) => m.envelope.type === "inventory.reserved")) {
      if (await broker.jsm.streams.deleteMessage(message.stream, message.seq))
        deleted.push(String(message.envelope.data.checkoutId));
    }
  } finally {
    await broker.close();
  }
  expect(deleted).not.toEqual([]);
  await stack.start("orders");
  const outcome = await expectSettled(chaos, burst, { shoppers });
  expect(outcome.byStatus.confirmed).toBeGreaterThan(0);
  const sql = postgres(stack.databaseUrls.checkout, { max: 1, onnotice: () => {} });
  try {
    const neverRedriven = await sql<{ id: string }[]>`
      select id from checkouts where id = any(${deleted}::uuid[]) and redrives = 0`;
    expect(neverRedriven).toEqual([]);
  } finally {
    await sql.end();
  }
  return { deleted: deleted.length, outcome };
}
