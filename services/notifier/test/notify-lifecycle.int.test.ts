import type { EventData } from "@codflow/shared";
import { waitFor } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newCustomerEmail, startNotifierFixture } from "./helpers.ts";
import { startSmtpServer } from "./smtp.ts";

let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
let fx: Awaited<ReturnType<typeof startNotifierFixture>>;
beforeAll(async () => {
  smtp = await startSmtpServer();
  fx = await startNotifierFixture({ smtpPort: smtp.port });
});
afterAll(async () => {
  await fx?.close();
  await smtp?.stop();
});

let orders = 0;
/** What every lifecycle event says about the order, for a fresh order of `customerEmail`. */
const lifecycle = (customerEmail: string | null) => ({
  orderId: uuidv7(),
  orderNumber: `CF-9${String(++orders).padStart(5, "0")}`,
  checkoutId: uuidv7(),
  reservationId: uuidv7(),
  customerId: "customer-1",
  customerEmail,
  actorRole: "courier" as const,
  at: new Date().toISOString(),
});
type Order = ReturnType<typeof lifecycle>;

const shipped = (o: Order): EventData<"orders.shipped"> => ({
  ...o,
  actorRole: "admin",
  courier: "DHL",
  awb: "AWB-123",
});
const failed = (o: Order, attempt: number): EventData<"orders.delivery_failed"> => ({
  ...o,
  reason: "customer_unavailable",
  attempt,
});
const delivered = (o: Order): EventData<"orders.delivered"> => ({
  ...o,
  cashCollectedMinor: 3499,
  totalMinor: 3499,
  currency: "EUR",
  cashMismatch: false,
});
const cancelled = (o: Order, actorRole: Order["actorRole"] | "customer" | "system") => ({
  ...o,
  actorRole,
  reason: "changed my mind",
});

const handled = (eventId: string) =>
  waitFor(
    async () => (await fx.sql`select 1 from inbox where event_id = ${eventId}`).length === 1,
    {
      what: `event ${eventId} handled`,
    },
  );
const notificationsOf = (eventId: string) =>
  fx.sql`select template, status, checkout_id from notifications where event_id = ${eventId}`;

describe("delivery lifecycle emails", () => {
  it("emails shipped (courier, waybill), each failed attempt and delivered (cash paid)", async () => {
    const email = newCustomerEmail();
    const order = lifecycle(email);

    await fx.publish("orders.shipped", shipped(order));
    await fx.publish("orders.delivery_failed", failed(order, 1));
    await fx.publish("orders.delivery_failed", failed(order, 2));
    await fx.publish("orders.delivered", delivered(order));

    const mails = await waitFor(() => smtp.to(email).length === 4 && smtp.to(email), {
      what: "four emails",
    });
    const bySubject = (s: string) => mails.filter((m) => m.subject === s);
    const [onItsWay] = bySubject(`Your order ${order.orderNumber} is on its way`);
    expect(onItsWay?.text).toContain("has shipped with DHL");
    expect(onItsWay?.text).toContain("Waybill number: AWB-123");
    const failures = bySubject(`We could not deliver your order ${order.orderNumber}`);
    expect(failures.map((m) => m.text?.match(/attempt (\d)/)?.[1]).sort()).toEqual(["1", "2"]);
    expect(failures[0]?.text).toContain("nobody was there to receive it");
    const [receipt] = bySubject(`Your order ${order.orderNumber} was delivered`);
    expect(receipt?.text).toContain("Cash paid to the courier: EUR 34.99");
  });

  it("emails a cancellation by the customer or ops, but not one by the saga (its checkout-failed email said it)", async () => {
    const email = newCustomerEmail();
    const byCustomer = lifecycle(email);
    const bySystem = lifecycle(email);

    const system = await fx.publish("orders.cancelled", cancelled(bySystem, "system"));
    await fx.publish("orders.cancelled", cancelled(byCustomer, "customer"));

    const [mail] = await waitFor(() => smtp.to(email).length === 1 && smtp.to(email), {
      what: "the cancellation email",
    });
    expect(mail?.subject).toBe(`Your order ${byCustomer.orderNumber} is cancelled`);
    expect(mail?.text).toContain("was cancelled as you asked");
    await handled(system.id);
    expect(await notificationsOf(system.id)).toEqual([]);
    expect(smtp.to(email)).toHaveLength(1);
  });

  it("records an email without an address as skipped, and sends one email per event however often it comes", async () => {
    const noAddress = await fx.publish("orders.shipped", shipped(lifecycle(null)));
    await handled(noAddress.id);
    expect(await notificationsOf(noAddress.id)).toEqual([
      { template: "order-shipped", status: "skipped", checkout_id: expect.any(String) },
    ]);

    const email = newCustomerEmail();
    const order = lifecycle(email);
    const event = await fx.publish("orders.delivery_failed", failed(order, 1));
    await waitFor(() => smtp.to(email).length === 1, { what: "the first email" });
    await fx.redeliver(event);
    const again = await fx.publish("orders.shipped", shipped(order));
    await fx.publish("orders.shipped", shipped(order));

    await waitFor(() => smtp.to(email).length === 2, { what: "the shipped email" });
    await handled(again.id);
    const [row] = await waitFor(
      async () => {
        const rows = await notificationsOf(event.id);
        return rows[0]?.status === "sent" && rows;
      },
      { what: "the failed-delivery email marked sent" },
    );
    expect(row).toEqual({ template: "delivery-failed", status: "sent", checkout_id: null });
    expect(
      smtp
        .to(email)
        .map((m) => m.subject)
        .sort(),
    ).toEqual([
      `We could not deliver your order ${order.orderNumber}`,
      `Your order ${order.orderNumber} is on its way`,
    ]);
  });
});
