import { failingOnce, waitFor } from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { onCheckoutRequested, onOrdersConfirmed } from "../src/index.ts";
import {
  type Inventory,
  ledgerMismatches,
  ordersConfirmed,
  outboxEvents,
  reservationStatus,
  reserve,
  seedProduct,
  startInventory,
  stockLevel,
} from "./helpers.ts";

let fx: Inventory;
beforeAll(async () => {
  fx = await startInventory();
  fx.consume(onCheckoutRequested({ reservationTtlSeconds: 900 }));
});
afterAll(() => fx.close());

describe("inventory.commit-reservation in set-based batches", () => {
  it("commits every reservation of a batch exactly once when one of them fails transiently", async () => {
    const product = await seedProduct(fx, [{ stock: 20 }]);
    const variantId = product.variants[0]?.id ?? "";
    const reserved = [];
    for (let i = 0; i < 8; i++) reserved.push(await reserve(fx, [{ variantId, qty: 2 }]));
    const victim = reserved[4]?.data.reservationId;
    const faulty = failingOnce(
      onOrdersConfirmed({ logger: fx.logger, metrics: fx.inventoryMetrics }),
      (event) => event.data.reservationId === victim,
    );
    for (const r of reserved) await fx.publish("orders.confirmed", ordersConfirmed(r));

    fx.consume(faulty.spec, { batchSize: 8, baseBackoffMs: 50 });

    const reservationIds = reserved.map((r) => r.data.reservationId);
    await waitFor(
      async () => {
        const statuses = await Promise.all(reservationIds.map((id) => reservationStatus(fx, id)));
        return statuses.every((s) => s === "committed");
      },
      { timeoutMs: 20_000, what: "8 reservations committed" },
    );
    expect(faulty.failedIn(), "the fault hit a set-based batch").toBe("batch");
    expect(faulty.attempts()).toBeGreaterThan(1);
    expect(await stockLevel(fx, variantId)).toEqual({ onHand: 20, reserved: 0, committed: 16 });
    const checkoutIds = new Set(reserved.map((r) => r.data.checkoutId));
    const committed = (await outboxEvents(fx, "inventory.committed")).filter((e) =>
      checkoutIds.has(e.correlationId),
    );
    expect(committed.map((e) => e.correlationId).sort()).toEqual([...checkoutIds].sort());
    const [commits] = await fx.sql`
      select count(*)::int as n from stock_movements
      where kind = 'commit' and reservation_id = any(${reservationIds}::uuid[])`;
    expect(commits?.n).toBe(8);
    expect(await ledgerMismatches(fx)).toEqual([]);
  });
});
