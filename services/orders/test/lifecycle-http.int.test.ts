import { metricValue, scrapeMetrics, signToken, waitFor } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type OrdersFixture,
  publishReserved,
  replicateVendor,
  reservedData,
  startOrdersFixture,
} from "./helpers.ts";

let fx: OrdersFixture;
let vendorId: string;
const tokens: Record<string, string> = {};
beforeAll(async () => {
  fx = await startOrdersFixture({ maxDeliveryAttempts: 3 });
  vendorId = await replicateVendor(fx);
  tokens.alice = await signToken({ sub: "customer-alice", role: "customer" });
  tokens.bob = await signToken({ sub: "customer-bob", role: "customer" });
  tokens.admin = await signToken({ sub: "ops-1", role: "admin" });
  tokens.courier = await signToken({ sub: "rider-7", role: "courier" });
});
afterAll(() => fx?.close());

type Json = Record<string, unknown>;
// biome-ignore lint/suspicious/noExplicitAny: responses are asserted field by field
type Answer = { status: number; body: any };
const call = async (
  method: string,
  path: string,
  token?: string,
  body?: unknown,
): Promise<Answer> => {
  const res = await fx.app.request(path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
};
const move = (orderId: string, body: Json, token = tokens.admin) =>
  call("POST", `/v1/admin/orders/${orderId}/transitions`, token, body);

/** Given: a confirmed order of `customerId`, made by the real consumers. */
async function confirmedOrder(customerId = "customer-alice") {
  const data = reservedData(vendorId, { customerId });
  await publishReserved(fx, data);
  const [order] = await waitFor(
    async () => {
      const rows =
        await fx.sql`select id, number from orders where checkout_id = ${data.checkoutId}`;
      return rows.length === 1 && rows;
    },
    { what: "order created" },
  );
  return { id: order?.id as string, number: order?.number as string, data };
}

const emitted = (orderId: string) =>
  fx.sql<{ type: string; data: Json }[]>`
    select type, envelope->'data' as data from outbox
    where envelope->'data'->>'orderId' = ${orderId} and type <> 'orders.confirmed'
    order by created_at, id`;

/** A counter of the app's /metrics; 0 for a label set never counted. */
const metric = async (name: string, labels: Record<string, string> = {}) =>
  metricValue(await scrapeMetrics(fx.app), name, labels) || 0;

describe("POST /v1/orders/:id/cancel", () => {
  it("cancels the customer's confirmed order, audits it and emits orders.cancelled; a second time is 409", async () => {
    const order = await confirmedOrder();

    const res = await call("POST", `/v1/orders/${order.id}/cancel`, tokens.alice);

    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: order.id, status: "cancelled", delivery: null });
    expect(res.body.history.map((h: Json) => h.status)).toEqual(["confirmed", "cancelled"]);
    const audit = await call("GET", `/v1/admin/orders/${order.id}/audit`, tokens.admin);
    expect(audit.body.items.at(-1)).toMatchObject({
      actor: "customer-alice",
      role: "customer",
      from: "confirmed",
      to: "cancelled",
      at: expect.stringMatching(/Z$/),
    });
    expect(await emitted(order.id)).toEqual([
      {
        type: "orders.cancelled",
        data: expect.objectContaining({
          orderId: order.id,
          orderNumber: order.number,
          checkoutId: order.data.checkoutId,
          reservationId: order.data.reservationId,
          customerEmail: "customer-alice@codflow.test",
          actorRole: "customer",
        }),
      },
    ]);

    const again = await call("POST", `/v1/orders/${order.id}/cancel`, tokens.alice);
    expect(again.status).toBe(409);
    expect(again.body.type).toMatch(/\/illegal-transition$/);
  });

  it("answers 404 for another customer's order and 403 for a non-customer, changing nothing", async () => {
    const order = await confirmedOrder();

    expect((await call("POST", `/v1/orders/${order.id}/cancel`, tokens.bob)).status).toBe(404);
    expect((await call("POST", `/v1/orders/${order.id}/cancel`, tokens.admin)).status).toBe(403);
    expect((await call("POST", `/v1/orders/${order.id}/cancel`)).status).toBe(401);
    const { body } = await call("GET", `/v1/orders/${order.id}`, tokens.alice);
    expect(body.status).toBe("confirmed");
  });

  it("refuses once the order has shipped", async () => {
    const order = await confirmedOrder();
    await move(order.id, { to: "shipped", courier: "dhl", awb: `AWB-${uuidv7()}` });

    const res = await call("POST", `/v1/orders/${order.id}/cancel`, tokens.alice);

    expect(res.status).toBe(409);
    expect(res.body.detail).toBe("an order that is shipped cannot become cancelled");
  });
});

describe("POST /v1/admin/orders/:id/transitions", () => {
  it("delivers after one failed attempt, records the cash and flags a mismatch", async () => {
    const order = await confirmedOrder();
    const awb = `AWB-${uuidv7()}`;
    const mismatchesBefore = await metric("codflow_cash_mismatches_total");

    const shipped = await move(order.id, { to: "shipped", courier: "dhl", awb });
    expect(shipped.status).toBe(200);
    expect(shipped.body.delivery).toMatchObject({ courier: "dhl", awb, attempts: 0 });
    expect((await move(order.id, { to: "out_for_delivery" }, tokens.courier)).status).toBe(200);
    const failed = await move(
      order.id,
      { to: "delivery_failed", reason: "customer_unavailable" },
      tokens.courier,
    );
    expect(failed.body.delivery).toMatchObject({
      attempts: 1,
      lastFailureReason: "customer_unavailable",
    });
    expect((await move(order.id, { to: "out_for_delivery" }, tokens.courier)).status).toBe(200);
    const delivered = await move(
      order.id,
      { to: "delivered", cashCollectedMinor: 3000 },
      tokens.courier,
    );

    expect(delivered.status).toBe(200);
    expect(delivered.body).toMatchObject({
      status: "delivered",
      delivery: {
        courier: "dhl",
        awb,
        attempts: 1,
        cashCollectedMinor: 3000,
        cashMismatch: true,
        deliveredBy: "rider-7",
        deliveredAt: expect.stringMatching(/Z$/),
      },
    });
    const customerView = await call("GET", `/v1/orders/${order.id}`, tokens.alice);
    expect(customerView.body.delivery).toEqual({
      courier: "dhl",
      awb,
      attempts: 1,
      lastFailureReason: "customer_unavailable",
    });
    expect(customerView.body.history.map((h: Json) => h.status)).toEqual([
      "confirmed",
      "shipped",
      "out_for_delivery",
      "delivery_failed",
      "out_for_delivery",
      "delivered",
    ]);
    const audit = await call("GET", `/v1/admin/orders/${order.id}/audit`, tokens.admin);
    expect(audit.body.items.map((r: Json) => [r.actor, r.role, r.from, r.to, r.data])).toEqual([
      ["system", "system", null, "confirmed", expect.any(Object)],
      ["ops-1", "admin", "confirmed", "shipped", { courier: "dhl", awb }],
      ["rider-7", "courier", "shipped", "out_for_delivery", { attempt: 1 }],
      [
        "rider-7",
        "courier",
        "out_for_delivery",
        "delivery_failed",
        { reason: "customer_unavailable", attempt: 1 },
      ],
      ["rider-7", "courier", "delivery_failed", "out_for_delivery", { attempt: 2 }],
      [
        "rider-7",
        "courier",
        "out_for_delivery",
        "delivered",
        { cashCollectedMinor: 3000, totalMinor: 3499, cashMismatch: true },
      ],
    ]);
    expect((await emitted(order.id)).map((e) => e.type)).toEqual([
      "orders.shipped",
      "orders.out_for_delivery",
      "orders.delivery_failed",
      "orders.out_for_delivery",
      "orders.delivered",
    ]);
    expect(await metric("codflow_cash_mismatches_total")).toBe(mismatchesBefore + 1);
    expect(
      await metric("codflow_order_transitions_total", {
        from: "out_for_delivery",
        to: "delivered",
      }),
    ).toBeGreaterThanOrEqual(1);
  });

  it("allows only rto_initiated after the last failed attempt, then returned", async () => {
    const order = await confirmedOrder();
    const failuresBefore = await metric("codflow_delivery_failures_total", {
      reason: "address_issue",
    });
    await move(order.id, { to: "shipped", courier: "dhl", awb: `AWB-${uuidv7()}` });
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect((await move(order.id, { to: "out_for_delivery" }, tokens.courier)).status).toBe(200);
      const failed = await move(
        order.id,
        { to: "delivery_failed", reason: "address_issue" },
        tokens.courier,
      );
      expect(failed.body.delivery.attempts).toBe(attempt);
    }

    const fourth = await move(order.id, { to: "out_for_delivery" }, tokens.courier);
    expect(fourth.status).toBe(409);
    expect(fourth.body.type).toMatch(/\/illegal-transition$/);
    expect(fourth.body.detail).toBe(
      "3 of 3 delivery attempts failed: only rto_initiated is allowed",
    );
    expect((await move(order.id, { to: "rto_initiated" }, tokens.courier)).status).toBe(403);
    expect((await move(order.id, { to: "rto_initiated", reason: "unreachable" })).status).toBe(200);
    const returned = await move(order.id, { to: "returned" });

    expect(returned.body.status).toBe("returned");
    expect((await emitted(order.id)).map((e) => e.type).slice(-2)).toEqual([
      "orders.rto_initiated",
      "orders.returned",
    ]);
    expect(await metric("codflow_delivery_failures_total", { reason: "address_issue" })).toBe(
      failuresBefore + 3,
    );
  });

  it("answers 422 with field errors for missing or invalid data, 400 for a bad body", async () => {
    const order = await confirmedOrder();

    const nulCourier = await move(order.id, { to: "shipped", courier: "d\u0000hl", awb: "A-1" });
    expect(nulCourier.status, "a NUL byte is a bad value, not a server error").toBe(400);
    const noAwb = await move(order.id, { to: "shipped", courier: "dhl" });
    expect(noAwb.status).toBe(422);
    expect(noAwb.body.errors).toEqual([{ path: "awb", message: "required to move to shipped" }]);
    await move(order.id, { to: "shipped", courier: "dhl", awb: `AWB-${uuidv7()}` });
    await move(order.id, { to: "out_for_delivery" });
    const noCash = await move(order.id, { to: "delivered" });
    expect(noCash.status).toBe(422);
    expect(noCash.body.errors).toEqual([
      { path: "cashCollectedMinor", message: "required to move to delivered" },
    ]);
    const badReason = await move(order.id, { to: "delivery_failed", reason: "dog ate it" });
    expect(badReason.status).toBe(422);
    expect(badReason.body.errors[0].path).toBe("reason");

    expect((await move(order.id, { to: "lost" })).status).toBe(400);
    const nul = await move(order.id, { to: "delivery_failed", reason: "other\u0000" });
    expect(nul.status, "a NUL byte is a bad value, not a server error").toBe(422);
    expect((await move(order.id, { to: "delivered", cashCollectedMinor: -1 })).status).toBe(400);
    const { body } = await call("GET", `/v1/admin/orders/${order.id}`, tokens.admin);
    expect(body.status).toBe("out_for_delivery");
  });

  it("refuses a waybill the courier already used with 409 awb-already-used", async () => {
    const first = await confirmedOrder();
    const second = await confirmedOrder();
    const awb = `AWB-${uuidv7()}`;
    await move(first.id, { to: "shipped", courier: "dhl", awb });

    const reused = await move(second.id, { to: "shipped", courier: "dhl", awb });

    expect(reused.status).toBe(409);
    expect(reused.body.type).toMatch(/\/awb-already-used$/);
    expect((await move(second.id, { to: "shipped", courier: "ups", awb })).status).toBe(200);
  });

  it("lets only admins and couriers in, and couriers only onto the delivery run", async () => {
    const order = await confirmedOrder();

    expect((await move(order.id, { to: "cancelled" }, tokens.alice)).status).toBe(403);
    const courierShips = await move(
      order.id,
      { to: "shipped", courier: "dhl", awb: "X" },
      tokens.courier,
    );
    expect(courierShips.status).toBe(403);
    expect(courierShips.body.detail).toBe(
      "a courier cannot move an order from confirmed to shipped",
    );
    expect((await move(order.id, { to: "cancelled" }, tokens.courier)).status).toBe(403);
    expect((await move(uuidv7(), { to: "cancelled" })).status).toBe(404);
    expect((await move(order.id, { to: "cancelled", reason: "fraud suspected" })).status).toBe(200);
  });

  it("lets exactly one of two concurrent moves from the same status win", async () => {
    const orders = await Promise.all(Array.from({ length: 10 }, () => confirmedOrder()));

    const results = await Promise.all(
      orders.map((order) =>
        Promise.all([
          move(order.id, { to: "shipped", courier: "dhl", awb: `AWB-${uuidv7()}` }),
          call("POST", `/v1/orders/${order.id}/cancel`, tokens.alice),
        ]),
      ),
    );

    for (const [i, [shipped, cancelled]] of results.entries()) {
      expect([shipped.status, cancelled.status].sort()).toEqual([200, 409]);
      const audit = await call("GET", `/v1/admin/orders/${orders[i]?.id}/audit`, tokens.admin);
      expect(audit.body.items).toHaveLength(2);
      expect(await emitted(orders[i]?.id ?? "")).toHaveLength(1);
    }
  });
});

describe("GET /v1/admin/orders", () => {
  it("lists orders of every customer by status, newest first, page by page", async () => {
    const cancelled = [];
    for (const customerId of ["customer-carol", "customer-dan", "customer-erin"]) {
      const order = await confirmedOrder(customerId);
      await move(order.id, { to: "cancelled" });
      cancelled.push(order.id);
    }

    const first = await call("GET", "/v1/admin/orders?status=cancelled&limit=2", tokens.admin);
    expect(first.status).toBe(200);
    expect(first.body.items.map((o: Json) => o.status)).toEqual(["cancelled", "cancelled"]);
    const seen: string[] = first.body.items.map((o: Json) => o.id);
    let cursor = first.body.nextCursor;
    while (cursor) {
      const page = await call(
        "GET",
        `/v1/admin/orders?status=cancelled&limit=2&cursor=${cursor}`,
        tokens.admin,
      );
      seen.push(...page.body.items.map((o: Json) => o.id));
      cursor = page.body.nextCursor;
    }
    expect(seen.slice(0, 3)).toEqual(cancelled.reverse());
    expect(new Set(seen).size).toBe(seen.length);

    expect((await call("GET", "/v1/admin/orders?status=lost", tokens.admin)).status).toBe(400);
    expect((await call("GET", "/v1/admin/orders", tokens.courier)).status).toBe(403);
    expect((await call("GET", "/v1/admin/orders", tokens.alice)).status).toBe(403);
    expect((await call("GET", `/v1/admin/orders/${uuidv7()}/audit`, tokens.admin)).status).toBe(
      404,
    );
  });
});
