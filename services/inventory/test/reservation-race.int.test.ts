import type { ConsumerOptions } from "@codflow/shared";
import { failingOnce, waitFor } from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { onCheckoutRequested } from "../src/index.ts";
import {
  checkoutRequested,
  type Inventory,
  ledgerMismatches,
  type OutboxEvent,
  outboxEvents,
  seedProduct,
  startInventory,
  stockLevel,
} from "./helpers.ts";

let fx: Inventory;
beforeAll(async () => {
  fx = await startInventory();
});
afterAll(() => fx.close());

type Outcome = OutboxEvent<{
  reason?: string;
  lines: { requestedQty?: number; availableQty?: number }[];
}>;

/**
 * Given a variant with 10 units, when 50 buyers ask for 1 unit each at once, then exactly 10
 * are reserved and 40 rejected out_of_stock; stock never goes below zero; the ledger adds up.
 */
async function fiftyBuyersForTenUnits(instances: ConsumerOptions[]) {
  const product = await seedProduct(fx, [{ stock: 10 }]);
  const variantId = product.variants[0]?.id ?? "";
  const handledBy = instances.map(() => 0);
  const consumers = instances.map((options, i) => {
    const spec = onCheckoutRequested({ reservationTtlSeconds: 900 });
    return fx.consume(
      {
        ...spec,
        handle: (event, tx) => {
          handledBy[i] = (handledBy[i] ?? 0) + 1;
          return spec.handle(event, tx);
        },
        handleBatch: async (events, tx) => {
          handledBy[i] = (handledBy[i] ?? 0) + events.length;
          await spec.handleBatch?.(events, tx);
        },
      },
      options,
    );
  });
  const requests = Array.from({ length: 50 }, () => checkoutRequested([{ variantId, qty: 1 }]));
  const checkoutIds = new Set(requests.map((r) => r.checkoutId));

  await Promise.all(requests.map((r) => fx.publish("checkout.requested", r)));

  let lowestFree = Number.POSITIVE_INFINITY;
  const outcomes = await waitFor(
    async () => {
      const level = await stockLevel(fx, variantId);
      if (level) lowestFree = Math.min(lowestFree, level.onHand - level.reserved - level.committed);
      const found = (await outboxEvents(fx)).filter((e): e is Outcome =>
        checkoutIds.has(e.correlationId),
      );
      return found.length === 50 && found;
    },
    { timeoutMs: 30_000, what: "50 outcomes" },
  );
  await Promise.all(consumers.map((c) => c.stop()));
  expect(
    handledBy.every((n) => n > 0),
    `each instance handled some: ${handledBy}`,
  ).toBe(true);

  const reserved = outcomes.filter((e) => e.type === "inventory.reserved");
  const rejected = outcomes.filter((e) => e.type === "inventory.rejected");
  expect(reserved).toHaveLength(10);
  expect(rejected).toHaveLength(40);
  for (const r of rejected) {
    expect(r.data.reason).toBe("out_of_stock");
    expect(r.data.lines).toEqual([expect.objectContaining({ requestedQty: 1, availableQty: 0 })]);
  }
  expect(lowestFree).toBeGreaterThanOrEqual(0);
  expect(await stockLevel(fx, variantId)).toEqual({ onHand: 10, reserved: 10, committed: 0 });
  const [active] = await fx.sql`
    select count(*)::int as n from reservations r join reservation_lines l on l.reservation_id = r.id
    where l.variant_id = ${variantId} and r.status = 'active'`;
  expect(active?.n).toBe(10);
  expect(await ledgerMismatches(fx)).toEqual([]);
}

describe("reservation atomicity under contention", () => {
  it("reserves exactly 10 of 50 concurrent one-unit checkouts for 10 units with one consumer", async () => {
    await fiftyBuyersForTenUnits([{ batchSize: 8 }]);
  });

  it("reserves exactly 10 of 50 when two consumer instances share the work", async () => {
    await fiftyBuyersForTenUnits([{ batchSize: 4 }, { batchSize: 4 }]);
  });
});

describe("reservation batches", () => {
  it("reserves every checkout of a batch exactly once when one of them fails transiently", async () => {
    const product = await seedProduct(fx, [{ stock: 20 }]);
    const variantId = product.variants[0]?.id ?? "";
    const requests = Array.from({ length: 12 }, () => checkoutRequested([{ variantId, qty: 1 }]));
    const flaky = requests[5]?.checkoutId;
    const faulty = failingOnce(
      onCheckoutRequested({ reservationTtlSeconds: 900 }),
      (event) => event.data.checkoutId === flaky,
    );

    for (const r of requests) await fx.publish("checkout.requested", r);
    fx.consume(faulty.spec, { batchSize: 12, baseBackoffMs: 50 });

    const checkoutIds = new Set(requests.map((r) => r.checkoutId));
    await waitFor(
      async () =>
        (await outboxEvents(fx, "inventory.reserved")).filter((e) =>
          checkoutIds.has(e.correlationId),
        ).length === 12,
      { timeoutMs: 20_000, what: "12 reservations" },
    );
    expect(faulty.failedIn(), "the fault hit a set-based batch").toBe("batch");
    expect(faulty.attempts()).toBeGreaterThan(1);
    expect(await stockLevel(fx, variantId)).toEqual({ onHand: 20, reserved: 12, committed: 0 });
    const [reservations] = await fx.sql`
      select count(*)::int as n from reservations where checkout_id = any(${[...checkoutIds]}::uuid[])`;
    expect(reservations?.n).toBe(12);
    expect(await ledgerMismatches(fx)).toEqual([]);
  });
});
