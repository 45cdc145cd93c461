import type { EventData } from "@codflow/shared";
import { waitFor } from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { onCheckoutRequested, onOrdersConfirmed, onOrdersReturned } from "../src/index.ts";
import {
  heldMismatches,
  type Inventory,
  ledgerMismatches,
  ordersConfirmed,
  type Reserved,
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
  fx.consume(onOrdersConfirmed({ logger: fx.logger, metrics: fx.inventoryMetrics }));
  fx.consume(onOrdersReturned({ logger: fx.logger }));
});
afterAll(() => fx.close());

const returned = (order: EventData<"orders.confirmed">): EventData<"orders.returned"> => ({
  orderId: order.orderId,
  orderNumber: order.orderNumber,
  checkoutId: order.checkoutId,
  reservationId: order.reservationId,
  customerId: order.customerId,
  customerEmail: null,
  actorRole: "admin",
  at: new Date().toISOString(),
});

const restocks = (checkoutId: string) =>
  fx.sql`select variant_id, committed_delta, reserved_delta, on_hand_delta from stock_movements
         where checkout_id = ${checkoutId} and kind = 'restock' order by variant_id`;

/** Messages the restock consumer finished (ok or duplicate). */
const handled = async () =>
  (await fx.counter("codflow_consumer_messages_total", {
    consumer: "inventory.restock-return",
    result: "ok",
  })) +
  (await fx.counter("codflow_consumer_messages_total", {
    consumer: "inventory.restock-return",
    result: "duplicate",
  }));

async function committedOrder(lines: { variantId: string; qty: number }[]) {
  const reserved: Reserved = await reserve(fx, lines);
  const order = ordersConfirmed(reserved);
  await fx.publish("orders.confirmed", order);
  await waitFor(async () => (await reservationStatus(fx, order.reservationId)) === "committed", {
    what: "committed",
  });
  return order;
}

describe("inventory.restock-return on orders.returned", () => {
  it("puts a returned order's committed stock back on sale with restock ledger rows", async () => {
    const product = await seedProduct(fx, [{ stock: 5 }, { stock: 4 }]);
    const [a, b] = product.variants.map((v) => v.id ?? "");
    const order = await committedOrder([
      { variantId: a ?? "", qty: 2 },
      { variantId: b ?? "", qty: 1 },
    ]);
    expect(await stockLevel(fx, a ?? "")).toEqual({ onHand: 5, reserved: 0, committed: 2 });

    await fx.publish("orders.returned", returned(order));

    await waitFor(async () => (await reservationStatus(fx, order.reservationId)) === "returned", {
      what: "returned",
    });
    expect(await stockLevel(fx, a ?? "")).toEqual({ onHand: 5, reserved: 0, committed: 0 });
    expect(await stockLevel(fx, b ?? "")).toEqual({ onHand: 4, reserved: 0, committed: 0 });
    expect(await restocks(order.checkoutId)).toEqual(
      [
        { variant_id: a, committed_delta: -2, reserved_delta: 0, on_hand_delta: 0 },
        { variant_id: b, committed_delta: -1, reserved_delta: 0, on_hand_delta: 0 },
      ].sort((x, y) => String(x.variant_id).localeCompare(String(y.variant_id))),
    );
    expect(await ledgerMismatches(fx)).toEqual([]);
    expect(await heldMismatches(fx)).toEqual([]);
  });

  it("restocks exactly once when the event is redelivered or sent again under a new id", async () => {
    const product = await seedProduct(fx, [{ stock: 3 }]);
    const variantId = product.variants[0]?.id ?? "";
    const order = await committedOrder([{ variantId, qty: 3 }]);
    const event = await fx.publish("orders.returned", returned(order));
    await waitFor(async () => (await reservationStatus(fx, order.reservationId)) === "returned", {
      what: "returned",
    });
    const before = await handled();

    await fx.redeliver(event);
    await fx.publish("orders.returned", returned(order));

    await waitFor(async () => (await handled()) === before + 2, { what: "both handled" });
    expect(await stockLevel(fx, variantId)).toEqual({ onHand: 3, reserved: 0, committed: 0 });
    expect(await restocks(order.checkoutId)).toHaveLength(1);
    expect(await ledgerMismatches(fx)).toEqual([]);
  });
});
