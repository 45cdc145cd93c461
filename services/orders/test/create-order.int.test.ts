import { deadLetterSubject, streamName } from "@codflow/shared";
import { makeEnvelope, waitFor } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  publishReserved,
  replicateVendor,
  requestedData,
  reservedData,
  shippingAddress,
  startOrdersFixture,
  vendorData,
} from "./helpers.ts";

let fx: Awaited<ReturnType<typeof startOrdersFixture>>;
beforeAll(async () => {
  fx = await startOrdersFixture();
});
afterAll(() => fx?.close());

const CREATE_ORDER = "orders.create-order";

const orderOf = async (checkoutId: string) => {
  const [order] = await fx.sql`select * from orders where checkout_id = ${checkoutId}`;
  return order;
};
const outboxOf = (causationId: string) =>
  fx.sql`select type, envelope, published_at, attempts from outbox where causation_id = ${causationId}`;

describe("orders.create-order on inventory.reserved", () => {
  it("creates the order, all its items, its first audit row and orders.confirmed in one go", async () => {
    const vendorId = await replicateVendor(fx);
    const data = reservedData(vendorId);

    const event = await publishReserved(fx, data);

    const order = await waitFor(() => orderOf(data.checkoutId), { what: "order created" });
    expect(order).toMatchObject({
      reservation_id: data.reservationId,
      customer_id: "customer-1",
      status: "confirmed",
      total_minor: 3499n,
      currency: "EUR",
      payment_method: "cod",
      phone: "+15555550100",
      shipping_address: shippingAddress,
      customer_email: "customer-1@codflow.test",
    });
    expect(
      await fx.sql`select 1 from checkout_contacts where checkout_id = ${data.checkoutId}`,
      "contact details kept only until the order holds them",
    ).toHaveLength(0);
    expect(order?.number).toMatch(/^CF-\d{6}$/);
    const items = await fx.sql`
      select line_no, variant_id, product_slug, vendor_id, sku, title, qty, unit_price_minor
      from order_items where order_id = ${order?.id} order by line_no`;
    expect(items).toEqual(
      data.lines.map((l, i) => ({
        line_no: i + 1,
        variant_id: l.variantId,
        product_slug: l.productSlug,
        vendor_id: vendorId,
        sku: l.sku,
        title: l.title,
        qty: l.qty,
        unit_price_minor: BigInt(l.unitPriceMinor),
      })),
    );
    const audit =
      await fx.sql`select actor, role, from_status, to_status from order_events where order_id = ${order?.id}`;
    expect(audit).toEqual([
      { actor: "system", role: "system", from_status: null, to_status: "confirmed" },
    ]);
    const [confirmed] = await outboxOf(event.id);
    expect(confirmed?.type).toBe("orders.confirmed");
    expect(confirmed?.envelope).toMatchObject({
      correlationId: data.checkoutId,
      causationId: event.id,
      data: {
        orderId: order?.id,
        orderNumber: order?.number,
        checkoutId: data.checkoutId,
        reservationId: data.reservationId,
        customerId: "customer-1",
        items: data.lines,
        totalMinor: 3499,
        currency: "EUR",
      },
    });
  });

  it("makes one order for a redelivered event and re-publishes the orders.confirmed it caused", async () => {
    const vendorId = await replicateVendor(fx);
    const data = reservedData(vendorId);
    const event = await publishReserved(fx, data);
    await waitFor(async () => (await outboxOf(event.id))[0]?.published_at != null, {
      what: "orders.confirmed published",
    });
    const duplicatesBefore = await fx.counter("codflow_consumer_messages_total", {
      consumer: CREATE_ORDER,
      result: "duplicate",
    });

    await fx.redeliver(event);

    await waitFor(
      async () =>
        (await fx.counter("codflow_consumer_messages_total", {
          consumer: CREATE_ORDER,
          result: "duplicate",
        })) ===
        duplicatesBefore + 1,
      { what: "duplicate recognised" },
    );
    const [resent] = await waitFor(
      async () => {
        const rows = await outboxOf(event.id);
        return rows[0]?.attempts === 2 && rows[0]?.published_at != null && rows;
      },
      { what: "orders.confirmed re-published" },
    );
    expect(resent?.type).toBe("orders.confirmed");
    const orders = await fx.sql`select id from orders where checkout_id = ${data.checkoutId}`;
    expect(orders).toHaveLength(1);
    expect(await outboxOf(event.id)).toHaveLength(1);
  });

  it("makes no second order when another event names the same checkout and re-sends the original confirmation", async () => {
    const vendorId = await replicateVendor(fx);
    const data = reservedData(vendorId);
    const first = await publishReserved(fx, data);
    await waitFor(async () => (await outboxOf(first.id))[0]?.published_at != null, {
      what: "orders.confirmed published",
    });

    const second = await fx.publish("inventory.reserved", data);

    await waitFor(
      async () => (await fx.sql`select 1 from inbox where event_id = ${second.id}`).length === 1,
      {
        what: "second event handled",
      },
    );
    await waitFor(async () => (await outboxOf(first.id))[0]?.attempts === 2, {
      what: "original orders.confirmed re-published",
    });
    expect(await fx.sql`select id from orders where checkout_id = ${data.checkoutId}`).toHaveLength(
      1,
    );
    expect(await outboxOf(second.id)).toHaveLength(0);
  });

  it("retries a reservation that arrives before its checkout.requested and makes the order once the contact details come", async () => {
    const vendorId = await replicateVendor(fx);
    const data = reservedData(vendorId);
    const retriesBefore = await fx.counter("codflow_consumer_messages_total", {
      consumer: CREATE_ORDER,
      result: "retry",
    });

    await fx.publish("inventory.reserved", data);
    await waitFor(
      async () =>
        (await fx.counter("codflow_consumer_messages_total", {
          consumer: CREATE_ORDER,
          result: "retry",
        })) > retriesBefore,
      { what: "the too-early reservation retried" },
    );
    expect(await orderOf(data.checkoutId)).toBeUndefined();
    await fx.publish("checkout.requested", requestedData(data, null));

    const order = await waitFor(() => orderOf(data.checkoutId), {
      timeoutMs: 20_000,
      what: "order created",
    });
    expect(order).toMatchObject({ phone: "+15555550100", customer_email: null });
  });

  it("retries an order whose vendor is not replicated yet, without stalling the orders beside it, and creates it once the vendor arrives", async () => {
    const knownVendor = await replicateVendor(fx);
    const lateVendor = uuidv7();
    const early = reservedData(lateVendor);
    const others = [reservedData(knownVendor), reservedData(knownVendor)];
    const retriesBefore = await fx.counter("codflow_consumer_messages_total", {
      consumer: CREATE_ORDER,
      result: "retry",
    });

    await Promise.all([early, ...others].map((data) => publishReserved(fx, data)));
    for (const data of others)
      await waitFor(() => orderOf(data.checkoutId), { what: "the other orders" });
    await waitFor(
      async () =>
        (await fx.counter("codflow_consumer_messages_total", {
          consumer: CREATE_ORDER,
          result: "retry",
        })) > retriesBefore,
      { what: "a retry" },
    );
    expect(await orderOf(early.checkoutId)).toBeUndefined();
    await fx.publish("inventory.vendor_upserted", vendorData(lateVendor));

    const order = await waitFor(() => orderOf(early.checkoutId), {
      timeoutMs: 20_000,
      what: "order created",
    });
    const items = await fx.sql`select vendor_id from order_items where order_id = ${order?.id}`;
    expect(items.map((i) => i.vendor_id)).toEqual([lateVendor, lateVendor]);
  });

  it("dead-letters an event with a bad schema and goes on serving the next one", async () => {
    const vendorId = await replicateVendor(fx);
    const badData = { ...reservedData(vendorId), lines: [] };
    const bad = makeEnvelope("inventory.reserved", badData);
    const deadBefore = await fx.counter("codflow_dead_letters_total", { consumer: CREATE_ORDER });

    await fx.publish("inventory.reserved", reservedData(vendorId), { envelope: bad });
    const next = reservedData(vendorId);
    await publishReserved(fx, next);

    await waitFor(() => orderOf(next.checkoutId), { what: "the next order created" });
    await waitFor(
      async () =>
        (await fx.counter("codflow_dead_letters_total", { consumer: CREATE_ORDER })) ===
        deadBefore + 1,
      { what: "dead letter counted" },
    );
    const dead = await fx.broker.jsm.streams.getMessage(streamName(fx.namespace, "deadletter"), {
      last_by_subj: deadLetterSubject(fx.namespace, "orders_create-order"),
    });
    expect(dead?.json<{ id: string }>().id).toBe(bad.id);
    expect(dead?.header.get("Codflow-Dlq-Reason")).toContain("invalid inventory.reserved data");
    expect(await orderOf(badData.checkoutId)).toBeUndefined();
  });

  it("refuses an order whose total is not the sum of its lines and emits orders.failed to compensate", async () => {
    const vendorId = await replicateVendor(fx);
    const data = { ...reservedData(vendorId), totalMinor: 100 };

    const event = await fx.publish("inventory.reserved", data);

    const [failed] = await waitFor(
      async () => {
        const rows = await outboxOf(event.id);
        return rows.length > 0 && rows;
      },
      { what: "orders.failed emitted" },
    );
    expect(failed?.type).toBe("orders.failed");
    expect(failed?.envelope).toMatchObject({
      correlationId: data.checkoutId,
      data: {
        checkoutId: data.checkoutId,
        reservationId: data.reservationId,
        customerId: data.customerId,
        detail: expect.stringContaining("total 100 is not the sum of the lines (3499)"),
      },
    });
    expect(await orderOf(data.checkoutId)).toBeUndefined();
    const dead = await fx.broker.jsm.streams.getMessage(streamName(fx.namespace, "deadletter"), {
      last_by_subj: deadLetterSubject(fx.namespace, "orders_create-order"),
    });
    expect(dead?.json<{ id: string }>().id).toBe(event.id);
  });
});

describe("orders.vendor-replica on inventory.vendor_upserted", () => {
  it("applies a newer revision and keeps it when an older one arrives late", async () => {
    const vendorId = uuidv7();
    await fx.publish("inventory.vendor_upserted", { ...vendorData(vendorId, 1), name: "First" });
    await waitFor(
      async () => (await fx.sql`select 1 from vendors where id = ${vendorId}`).length === 1,
      {
        what: "first revision replicated",
      },
    );
    await fx.publish("inventory.vendor_upserted", { ...vendorData(vendorId, 3), name: "Newest" });
    const older = await fx.publish("inventory.vendor_upserted", {
      ...vendorData(vendorId, 2),
      name: "Older",
    });

    await waitFor(
      async () => (await fx.sql`select 1 from inbox where event_id = ${older.id}`).length === 1,
      {
        what: "older revision handled",
      },
    );
    const [vendor] = await fx.sql`select name, revision from vendors where id = ${vendorId}`;
    expect(vendor).toEqual({ name: "Newest", revision: 3 });
  });
});
