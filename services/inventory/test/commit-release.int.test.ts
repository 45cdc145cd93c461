import type { EventData } from "@codflow/shared";
import { waitFor } from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { onCheckoutRequested, onOrdersConfirmed, onOrdersFailed } from "../src/index.ts";
import {
  checkoutRequested,
  type Inventory,
  ledgerMismatches,
  ordersConfirmed,
  outboxEvents,
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
  fx.consume(onOrdersFailed());
});
afterAll(() => fx.close());

const committedEventsOf = async (checkoutId: string) =>
  (await outboxEvents<EventData<"inventory.committed">>(fx, "inventory.committed")).filter(
    (e) => e.correlationId === checkoutId,
  );

const failed = ({ data }: Reserved): EventData<"orders.failed"> => ({
  checkoutId: data.checkoutId,
  reservationId: data.reservationId,
  customerId: data.customerId,
  detail: "the order could not be created",
});

const movementsOf = (reservationId: string) =>
  fx.sql`select kind, reserved_delta, committed_delta from stock_movements
         where reservation_id = ${reservationId} order by id`;

const handled = async (consumer: string) =>
  (
    (await fx.metrics.registry.getSingleMetric("codflow_consumer_messages_total")?.get())?.values ??
    []
  )
    .filter((v) => v.labels.consumer === consumer && v.labels.result !== "retry")
    .reduce((sum, v) => sum + v.value, 0);

describe("inventory.commit-reservation", () => {
  it("turns reserved units into committed ones with a commit ledger row per line and emits inventory.committed, once", async () => {
    const product = await seedProduct(fx, [{ stock: 5 }, { stock: 5 }]);
    const [a, b] = product.variants.map((v) => v.id ?? "");
    const reserved = await reserve(fx, [
      { variantId: a ?? "", qty: 2 },
      { variantId: b ?? "", qty: 1 },
    ]);
    const order = ordersConfirmed(reserved);
    const orderConfirmed = await fx.publish("orders.confirmed", order);
    await waitFor(
      async () => (await reservationStatus(fx, reserved.data.reservationId)) === "committed",
      {
        what: "committed",
      },
    );

    expect(await stockLevel(fx, a ?? "")).toEqual({ onHand: 5, reserved: 0, committed: 2 });
    expect(await stockLevel(fx, b ?? "")).toEqual({ onHand: 5, reserved: 0, committed: 1 });
    const commits = (await movementsOf(reserved.data.reservationId)).filter(
      (m) => m.kind === "commit",
    );
    expect(commits.map((m) => [m.reserved_delta, m.committed_delta]).sort()).toEqual([
      [-1, 1],
      [-2, 2],
    ]);
    const [committed] = await committedEventsOf(reserved.data.checkoutId);
    expect(committed?.causationId).toBe(orderConfirmed.id);
    expect(committed?.data).toEqual(order);

    const before = await handled("inventory.commit-reservation");
    await fx.publish("orders.confirmed", ordersConfirmed(reserved));
    await waitFor(async () => (await handled("inventory.commit-reservation")) === before + 1, {
      what: "second confirm handled",
    });
    expect(await stockLevel(fx, a ?? "")).toEqual({ onHand: 5, reserved: 0, committed: 2 });
    expect(await movementsOf(reserved.data.reservationId)).toHaveLength(4);
    expect(await committedEventsOf(reserved.data.checkoutId)).toHaveLength(1);
    expect(await ledgerMismatches(fx)).toEqual([]);
  });

  it("applies nothing to an order confirmed after its reservation was released: no commitment, no event, counted", async () => {
    const product = await seedProduct(fx, [{ stock: 5 }]);
    const variantId = product.variants[0]?.id ?? "";
    const reserved = await reserve(fx, [{ variantId, qty: 2 }]);
    await fx.publish("orders.failed", failed(reserved));
    await waitFor(
      async () => (await reservationStatus(fx, reserved.data.reservationId)) === "released",
      {
        what: "released",
      },
    );
    const late = { reservation_status: "released" };
    const lateBefore = await fx.counter("codflow_inventory_late_commits_total", late);

    await fx.publish("orders.confirmed", ordersConfirmed(reserved));

    await waitFor(
      async () =>
        (await fx.counter("codflow_inventory_late_commits_total", late)) === lateBefore + 1,
      { what: "the late commit counted" },
    );
    expect(
      await fx.counter("codflow_consumer_messages_total", {
        consumer: "inventory.commit-reservation",
        result: "dead_lettered",
      }),
    ).toBe(0);
    expect(await reservationStatus(fx, reserved.data.reservationId)).toBe("released");
    expect(await stockLevel(fx, variantId)).toEqual({ onHand: 5, reserved: 0, committed: 0 });
    expect(
      (await outboxEvents(fx, "inventory.committed")).filter(
        (e) => e.correlationId === reserved.data.checkoutId,
      ),
    ).toEqual([]);
    expect(await ledgerMismatches(fx)).toEqual([]);
  });
});

describe("inventory.release-reservation", () => {
  it("gives reserved units back with a release ledger row per line, once", async () => {
    const product = await seedProduct(fx, [{ stock: 3 }]);
    const variantId = product.variants[0]?.id ?? "";
    const reserved = await reserve(fx, [{ variantId, qty: 3 }]);
    expect(await stockLevel(fx, variantId)).toEqual({ onHand: 3, reserved: 3, committed: 0 });

    await fx.publish("orders.failed", failed(reserved));
    await waitFor(
      async () => (await reservationStatus(fx, reserved.data.reservationId)) === "released",
      {
        what: "released",
      },
    );
    expect(await stockLevel(fx, variantId)).toEqual({ onHand: 3, reserved: 0, committed: 0 });

    const before = await handled("inventory.release-reservation");
    await fx.publish("orders.failed", failed(reserved));
    await waitFor(async () => (await handled("inventory.release-reservation")) === before + 1, {
      what: "second failure handled",
    });
    expect(await stockLevel(fx, variantId)).toEqual({ onHand: 3, reserved: 0, committed: 0 });
    expect(
      (await movementsOf(reserved.data.reservationId)).map((m) => [m.kind, m.reserved_delta]),
    ).toEqual([
      ["reserve", 3],
      ["release", -3],
    ]);
    const again = await reserve(fx, [{ variantId, qty: 3 }]);
    expect(again.data.lines[0]?.qty).toBe(3);
  });
});

describe("stock ledger", () => {
  it("adds up to every stock level after a mixed workload", async () => {
    const product = await seedProduct(fx, [{ stock: 6 }, { stock: 4 }, { stock: 2 }]);
    const [a, b, c] = product.variants.map((v) => v.id ?? "");
    const toCommit = await reserve(fx, [
      { variantId: a ?? "", qty: 2 },
      { variantId: b ?? "", qty: 1 },
    ]);
    const toRelease = await reserve(fx, [
      { variantId: b ?? "", qty: 2 },
      { variantId: c ?? "", qty: 2 },
    ]);
    const toHold = await reserve(fx, [{ variantId: a ?? "", qty: 1 }]);
    await fx.admin("PUT", `/v1/admin/catalog/variants/${a}/stock`, { onHand: 9 });
    await fx.admin("PUT", `/v1/admin/catalog/variants/${c}/stock`, { onHand: 3 });
    await fx.publish("orders.confirmed", ordersConfirmed(toCommit));
    await fx.publish("orders.failed", failed(toRelease));
    await fx.publish("checkout.requested", checkoutRequested([{ variantId: b ?? "", qty: 99 }]));
    await waitFor(
      async () =>
        (await reservationStatus(fx, toCommit.data.reservationId)) === "committed" &&
        (await reservationStatus(fx, toRelease.data.reservationId)) === "released",
      { what: "commit and release applied" },
    );

    expect(await reservationStatus(fx, toHold.data.reservationId)).toBe("active");
    expect(await stockLevel(fx, a ?? "")).toEqual({ onHand: 9, reserved: 1, committed: 2 });
    expect(await stockLevel(fx, b ?? "")).toEqual({ onHand: 4, reserved: 0, committed: 1 });
    expect(await stockLevel(fx, c ?? "")).toEqual({ onHand: 3, reserved: 0, committed: 0 });
    expect(await ledgerMismatches(fx)).toEqual([]);
  });

  it("is append-only: the database refuses to update, delete or truncate it", async () => {
    for (const statement of [
      fx.sql`update stock_movements set on_hand_delta = on_hand_delta + 1`,
      fx.sql`delete from stock_movements`,
      fx.sql`truncate stock_movements`,
    ]) {
      await expect(statement).rejects.toThrow(/append-only/);
    }
  });

  it("refuses, in the database itself, a stock level that would oversell", async () => {
    const product = await seedProduct(fx, [{ stock: 1 }]);
    await expect(
      fx.sql`update stock_levels set reserved = 2 where variant_id = ${product.variants[0]?.id ?? ""}`,
    ).rejects.toThrow(/stock_levels_not_oversold/);
  });
});
