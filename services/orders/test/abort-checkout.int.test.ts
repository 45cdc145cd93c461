import { waitFor } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkoutFailedData,
  type OrdersFixture,
  publishReserved,
  replicateVendor,
  requestedData,
  reservedData,
  startOrdersFixture,
} from "./helpers.ts";

let fx: OrdersFixture;
let vendorId: string;
beforeAll(async () => {
  fx = await startOrdersFixture();
  vendorId = await replicateVendor(fx);
});
afterAll(() => fx?.close());

const orderOf = async (checkoutId: string) => {
  const [order] = await fx.sql`select * from orders where checkout_id = ${checkoutId}`;
  return order;
};
const outboxOf = (causationId: string) =>
  fx.sql`select type, envelope from outbox where causation_id = ${causationId}`;
const handled = (eventId: string) =>
  waitFor(
    async () => (await fx.sql`select 1 from inbox where event_id = ${eventId}`).length === 1,
    {
      what: `event ${eventId} handled`,
    },
  );

describe("orders.abort-checkout on checkout.failed", () => {
  it("cancels the checkout's confirmed order, appends a system audit row and emits orders.cancelled", async () => {
    const data = reservedData(vendorId);
    await publishReserved(fx, data);
    const order = await waitFor(() => orderOf(data.checkoutId), { what: "order created" });

    const failed = await fx.publish(
      "checkout.failed",
      checkoutFailedData(data.checkoutId, { reason: "reservation_expired" }),
    );

    await handled(failed.id);
    expect((await orderOf(data.checkoutId))?.status).toBe("cancelled");
    const audit = await fx.sql`
      select actor, role, from_status, to_status, data from order_events
      where order_id = ${order?.id} order by id`;
    expect(audit.at(-1)).toEqual({
      actor: "system",
      role: "system",
      from_status: "confirmed",
      to_status: "cancelled",
      data: { reason: "checkout_failed:reservation_expired" },
    });
    const emitted = await outboxOf(failed.id);
    expect(emitted).toHaveLength(1);
    expect(emitted[0]?.type).toBe("orders.cancelled");
    expect(emitted[0]?.envelope).toMatchObject({
      correlationId: data.checkoutId,
      causationId: failed.id,
      data: {
        orderId: order?.id,
        orderNumber: order?.number,
        checkoutId: data.checkoutId,
        reservationId: data.reservationId,
        customerId: data.customerId,
        customerEmail: `${data.customerId}@codflow.test`,
        actorRole: "system",
        at: expect.stringMatching(/Z$/),
        reason: "checkout_failed:reservation_expired",
      },
    });
    expect(
      await fx.sql`select 1 from voided_checkouts where checkout_id = ${data.checkoutId}`,
    ).toHaveLength(0);
  });

  it("voids a checkout that has no order yet, so its late reservation makes no order but orders.failed", async () => {
    const data = reservedData(vendorId);
    const failed = await fx.publish(
      "checkout.failed",
      checkoutFailedData(data.checkoutId, { reason: "timed_out" }),
    );
    await handled(failed.id);
    const [tombstone] = await fx.sql`
      select reason from voided_checkouts where checkout_id = ${data.checkoutId}`;
    expect(tombstone).toEqual({ reason: "timed_out" });
    expect(await outboxOf(failed.id)).toHaveLength(0);

    const reserved = await publishReserved(fx, data);

    await handled(reserved.id);
    expect(await orderOf(data.checkoutId)).toBeUndefined();
    expect(
      await fx.sql`select 1 from checkout_contacts where checkout_id = ${data.checkoutId}`,
    ).toHaveLength(0);
    const emitted = await outboxOf(reserved.id);
    expect(emitted).toHaveLength(1);
    expect(emitted[0]?.type).toBe("orders.failed");
    expect(emitted[0]?.envelope).toMatchObject({
      correlationId: data.checkoutId,
      data: {
        checkoutId: data.checkoutId,
        reservationId: data.reservationId,
        customerId: data.customerId,
        detail: "checkout already failed",
      },
    });
  });

  it("forgets a failed checkout's contact details, and keeps none that arrive after the failure", async () => {
    const contactsOf = (checkoutId: string) =>
      fx.sql`select phone from checkout_contacts where checkout_id = ${checkoutId}`;
    const early = reservedData(vendorId);
    await handled((await fx.publish("checkout.requested", requestedData(early))).id);
    expect(await contactsOf(early.checkoutId)).toEqual([{ phone: "+15555550100" }]);

    await handled((await fx.publish("checkout.failed", checkoutFailedData(early.checkoutId))).id);
    expect(await contactsOf(early.checkoutId)).toEqual([]);

    const late = reservedData(vendorId);
    await handled((await fx.publish("checkout.failed", checkoutFailedData(late.checkoutId))).id);
    await handled((await fx.publish("checkout.requested", requestedData(late))).id);
    expect(await contactsOf(late.checkoutId)).toEqual([]);
  });

  it("voids even a reservation whose vendor is not replicated: no retry, orders.failed at once", async () => {
    const data = reservedData(uuidv7());
    await handled((await fx.publish("checkout.failed", checkoutFailedData(data.checkoutId))).id);

    const reserved = await fx.publish("inventory.reserved", data);

    await handled(reserved.id);
    expect((await outboxOf(reserved.id)).map((r) => r.type)).toEqual(["orders.failed"]);
  });

  it("leaves an order already past confirmed as it is and emits nothing", async () => {
    const data = reservedData(vendorId);
    await publishReserved(fx, data);
    const order = await waitFor(() => orderOf(data.checkoutId), { what: "order created" });
    await fx.sql`update orders set status = 'shipped' where id = ${order?.id}`;

    const failed = await fx.publish("checkout.failed", checkoutFailedData(data.checkoutId));

    await handled(failed.id);
    expect((await orderOf(data.checkoutId))?.status).toBe("shipped");
    expect(await outboxOf(failed.id)).toHaveLength(0);
    expect(
      await fx.sql`select 1 from voided_checkouts where checkout_id = ${data.checkoutId}`,
    ).toHaveLength(0);
  });

  it("re-sends the orders.cancelled it caused when checkout.failed is redelivered, and cancels once", async () => {
    const data = reservedData(vendorId);
    await publishReserved(fx, data);
    const order = await waitFor(() => orderOf(data.checkoutId), { what: "order created" });
    const failed = await fx.publish("checkout.failed", checkoutFailedData(data.checkoutId));
    await waitFor(
      async () =>
        (
          await fx.sql`select 1 from outbox where causation_id = ${failed.id} and published_at is not null`
        ).length === 1,
      { what: "orders.cancelled published" },
    );

    await fx.redeliver(failed);

    await waitFor(
      async () =>
        (
          await fx.sql`select resends from outbox where causation_id = ${failed.id} and published_at is not null`
        )[0]?.resends === 1,
      { what: "orders.cancelled re-published under a fresh message id" },
    );
    const cancellations = await fx.sql`
      select 1 from order_events where order_id = ${order?.id} and to_status = 'cancelled'`;
    expect(cancellations).toHaveLength(1);
  });
});
