import type { EventData } from "@codflow/shared";
import { waitFor } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  onCheckoutFailed,
  onCheckoutRequested,
  onOrdersCancelled,
  onOrdersConfirmed,
  RESERVATION_TRANSITIONS,
  type ReservationStatus,
} from "../src/index.ts";
import {
  checkoutRequested,
  heldMismatches,
  type Inventory,
  ledgerMismatches,
  ordersConfirmed,
  outboxEvents,
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
  fx.consume(onCheckoutFailed());
  fx.consume(onOrdersCancelled());
});
afterAll(() => fx.close());

const checkoutFailed = (checkoutId: string): EventData<"checkout.failed"> => ({
  checkoutId,
  customerId: "customer-1",
  customerEmail: null,
  reason: "timed_out",
  detail: "the checkout ran past its deadline",
});

/** The customer cancelled the order (the event is the same whoever cancels). */
const cancelled = (order: EventData<"orders.confirmed">): EventData<"orders.cancelled"> => ({
  orderId: order.orderId,
  orderNumber: order.orderNumber,
  checkoutId: order.checkoutId,
  reservationId: order.reservationId,
  customerId: order.customerId,
  customerEmail: null,
  actorRole: "customer",
  at: new Date().toISOString(),
  reason: "cancelled by the customer",
});

const reservationOf = async (checkoutId: string) =>
  (
    await fx.sql<{ id: string; status: string; expiresAt: string; lines: number }[]>`
      select r.id, r.status::text, r.expires_at as "expiresAt",
             (select count(*)::int from reservation_lines l where l.reservation_id = r.id) as lines
      from reservations r where r.checkout_id = ${checkoutId}`
  )[0];

const movementsOf = (checkoutId: string) =>
  fx.sql`select kind::text, reserved_delta, committed_delta from stock_movements
         where checkout_id = ${checkoutId} order by id`;

/** Messages `consumer` finished (ok or duplicate), so a test can wait for a no-op. */
const handled = async (consumer: string) =>
  (await fx.counter("codflow_consumer_messages_total", { consumer, result: "ok" })) +
  (await fx.counter("codflow_consumer_messages_total", { consumer, result: "duplicate" }));

describe("inventory.abort-checkout", () => {
  it("voids a checkout aborted before it reserved, so a late checkout.requested reserves nothing and emits nothing", async () => {
    const product = await seedProduct(fx, [{ stock: 3 }]);
    const variantId = product.variants[0]?.id ?? "";
    const request = checkoutRequested([{ variantId, qty: 2 }]);

    await fx.publish("checkout.failed", checkoutFailed(request.checkoutId));
    const tombstone = await waitFor(() => reservationOf(request.checkoutId), {
      what: "the tombstone",
    });
    expect(tombstone).toMatchObject({ status: "void", lines: 0 });
    expect(Math.abs(new Date(tombstone.expiresAt).getTime() - Date.now())).toBeLessThan(10_000);

    const before = await handled("inventory.reserve-stock");
    await fx.publish("checkout.requested", request);
    await waitFor(async () => (await handled("inventory.reserve-stock")) === before + 1, {
      what: "the late checkout.requested handled",
    });

    expect(await reservationOf(request.checkoutId)).toEqual(tombstone);
    expect(await stockLevel(fx, variantId)).toEqual({ onHand: 3, reserved: 0, committed: 0 });
    expect((await outboxEvents(fx)).filter((e) => e.correlationId === request.checkoutId)).toEqual(
      [],
    );
    expect(await movementsOf(request.checkoutId)).toEqual([]);
    expect(
      await fx.counter("codflow_consumer_messages_total", {
        consumer: "inventory.reserve-stock",
        result: "dead_lettered",
      }),
    ).toBe(0);
  });

  it("releases the active reservation of an aborted checkout, once", async () => {
    const product = await seedProduct(fx, [{ stock: 3 }]);
    const variantId = product.variants[0]?.id ?? "";
    const reserved = await reserve(fx, [{ variantId, qty: 2 }]);

    await fx.publish("checkout.failed", checkoutFailed(reserved.data.checkoutId));
    await waitFor(
      async () => (await reservationOf(reserved.data.checkoutId))?.status === "released",
      { what: "released" },
    );
    const before = await handled("inventory.abort-checkout");
    await fx.publish("checkout.failed", checkoutFailed(reserved.data.checkoutId));
    await waitFor(async () => (await handled("inventory.abort-checkout")) === before + 1, {
      what: "the second abort handled",
    });

    expect(await stockLevel(fx, variantId)).toEqual({ onHand: 3, reserved: 0, committed: 0 });
    expect(await movementsOf(reserved.data.checkoutId)).toEqual([
      { kind: "reserve", reserved_delta: 2, committed_delta: 0 },
      { kind: "release", reserved_delta: -2, committed_delta: 0 },
    ]);
    expect(await ledgerMismatches(fx)).toEqual([]);
  });

  it("leaves a committed reservation alone: the order's cancellation gives its stock back", async () => {
    const product = await seedProduct(fx, [{ stock: 3 }]);
    const variantId = product.variants[0]?.id ?? "";
    const reserved = await reserve(fx, [{ variantId, qty: 2 }]);
    await fx.publish("orders.confirmed", ordersConfirmed(reserved));
    await waitFor(
      async () => (await reservationOf(reserved.data.checkoutId))?.status === "committed",
      { what: "committed" },
    );

    const before = await handled("inventory.abort-checkout");
    await fx.publish("checkout.failed", checkoutFailed(reserved.data.checkoutId));
    await waitFor(async () => (await handled("inventory.abort-checkout")) === before + 1, {
      what: "the abort handled",
    });

    expect((await reservationOf(reserved.data.checkoutId))?.status).toBe("committed");
    expect(await stockLevel(fx, variantId)).toEqual({ onHand: 3, reserved: 0, committed: 2 });
  });
});

describe("inventory.cancel-commitment", () => {
  it("gives a cancelled order's committed stock back with release ledger rows, once", async () => {
    const product = await seedProduct(fx, [{ stock: 5 }, { stock: 5 }]);
    const [a, b] = product.variants.map((v) => v.id ?? "");
    const reserved = await reserve(fx, [
      { variantId: a ?? "", qty: 2 },
      { variantId: b ?? "", qty: 1 },
    ]);
    const order = ordersConfirmed(reserved);
    await fx.publish("orders.confirmed", order);
    await waitFor(async () => (await reservationOf(order.checkoutId))?.status === "committed", {
      what: "committed",
    });
    expect(await stockLevel(fx, a ?? "")).toEqual({ onHand: 5, reserved: 0, committed: 2 });

    await fx.publish("orders.cancelled", cancelled(order));
    await waitFor(async () => (await reservationOf(order.checkoutId))?.status === "cancelled", {
      what: "cancelled",
    });
    const before = await handled("inventory.cancel-commitment");
    await fx.publish("orders.cancelled", cancelled(order));
    await waitFor(async () => (await handled("inventory.cancel-commitment")) === before + 1, {
      what: "the second cancellation handled",
    });

    expect(await stockLevel(fx, a ?? "")).toEqual({ onHand: 5, reserved: 0, committed: 0 });
    expect(await stockLevel(fx, b ?? "")).toEqual({ onHand: 5, reserved: 0, committed: 0 });
    const releases = (await movementsOf(order.checkoutId)).filter((m) => m.kind === "release");
    expect(releases.map((m) => [m.reserved_delta, m.committed_delta]).sort()).toEqual([
      [0, -1],
      [0, -2],
    ]);
    expect(await ledgerMismatches(fx)).toEqual([]);
    expect(await heldMismatches(fx)).toEqual([]);
  });

  it("releases a reservation still active when its order is cancelled", async () => {
    const product = await seedProduct(fx, [{ stock: 2 }]);
    const variantId = product.variants[0]?.id ?? "";
    const reserved = await reserve(fx, [{ variantId, qty: 2 }]);

    await fx.publish("orders.cancelled", cancelled(ordersConfirmed(reserved)));
    await waitFor(
      async () => (await reservationOf(reserved.data.checkoutId))?.status === "released",
      { what: "released" },
    );

    expect(await stockLevel(fx, variantId)).toEqual({ onHand: 2, reserved: 0, committed: 0 });
    expect(await ledgerMismatches(fx)).toEqual([]);
  });
});

describe("reservation lifecycle", () => {
  const statuses: ReservationStatus[] = [
    "active",
    "committed",
    "released",
    "expired",
    "void",
    "cancelled",
    "returned",
  ];
  const allowed = (from: ReservationStatus, to: ReservationStatus) =>
    (RESERVATION_TRANSITIONS as Partial<Record<ReservationStatus, readonly string[]>>)[
      from
    ]?.includes(to) ?? false;

  it("refuses, in the database itself, every status move outside RESERVATION_TRANSITIONS", async () => {
    const refused: string[] = [];
    for (const from of statuses) {
      for (const to of statuses.filter((s) => s !== from)) {
        const id = uuidv7();
        await fx.sql`insert into reservations (id, checkout_id, status, expires_at)
                     values (${id}, ${uuidv7()}, ${from}, now())`;
        const moved = await fx.sql`update reservations set status = ${to} where id = ${id}`.then(
          () => true,
          (err: Error) => {
            expect(err.message).toMatch(/cannot move/);
            return false;
          },
        );
        expect(moved, `${from} -> ${to}`).toBe(allowed(from, to));
        if (!moved) refused.push(`${from}->${to}`);
      }
    }
    expect(refused).toHaveLength(7 * 6 - 5);
  });
});
