import { waitFor } from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { confirmedData, failedData, newCustomerEmail, startNotifierFixture } from "./helpers.ts";
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

const handled = (eventId: string) =>
  waitFor(
    async () => (await fx.sql`select 1 from inbox where event_id = ${eventId}`).length === 1,
    {
      what: `event ${eventId} handled`,
    },
  );
const notificationsOfCheckout = (checkoutId: string) =>
  fx.sql`select event_id, template, status from notifications where checkout_id = ${checkoutId}`;
const notificationsOf = (eventId: string) =>
  fx.sql`select id, template, status, attempts, last_error from notifications where event_id = ${eventId}`;
/** The sink has the email a moment before the mailer records it sent: wait for the record. */
const sentNotificationOf = (eventId: string) =>
  waitFor(
    async () => {
      const [row] = await notificationsOf(eventId);
      return row?.status === "sent" && row;
    },
    { what: `the notification of ${eventId} recorded as sent` },
  );

describe("notifier.checkout-confirmed", () => {
  it("sends exactly one email with the order number, every item and the total to pay on delivery", async () => {
    const email = newCustomerEmail();
    const data = confirmedData(email);

    const event = await fx.publish("checkout.confirmed", data);

    const [mail] = await waitFor(() => smtp.to(email).length === 1 && smtp.to(email), {
      what: "one email",
    });
    expect(mail?.subject).toBe(`Your order ${data.orderNumber} is confirmed`);
    expect(mail?.from?.value).toEqual([{ name: "codflow", address: "no-reply@codflow.test" }]);
    expect(mail?.text).toContain(data.orderNumber);
    expect(mail?.text).toContain("- Blue shirt (M): 2 × EUR 12.50 = EUR 25.00");
    expect(mail?.text).toContain("- Socks: 1 × EUR 9.99 = EUR 9.99");
    expect(mail?.text).toContain("Total to pay in cash on delivery: EUR 34.99");
    const notification = await sentNotificationOf(event.id);
    expect(notification).toMatchObject({
      template: "order-confirmed",
      status: "sent",
      attempts: 1,
    });
    expect(mail?.messageId).toBe(`<notification-${notification?.id}@codflow.test>`);
    expect(
      await fx.counter("codflow_notifications_total", {
        template: "order-confirmed",
        result: "sent",
      }),
    ).toBeGreaterThan(0);
  });

  it("sends no second email when the same event is redelivered to a restarted consumer", async () => {
    const email = newCustomerEmail();
    const data = confirmedData(email);
    const event = await fx.publish("checkout.confirmed", data);
    await waitFor(() => smtp.to(email).length === 1, { what: "the first email" });
    const duplicatesBefore = await fx.counter("codflow_consumer_messages_total", {
      consumer: "notifier.checkout-confirmed",
      result: "duplicate",
    });

    await fx.restartConsumers();
    await fx.redeliver(event);

    await waitFor(
      async () =>
        (await fx.counter("codflow_consumer_messages_total", {
          consumer: "notifier.checkout-confirmed",
          result: "duplicate",
        })) ===
        duplicatesBefore + 1,
      { what: "the redelivery recognised as a duplicate" },
    );
    await fx.dispatchDue();
    expect(smtp.to(email)).toHaveLength(1);
    expect(await notificationsOf(event.id)).toHaveLength(1);
  });

  it("sends one email per checkout when its confirmation is re-emitted under a new event id", async () => {
    const email = newCustomerEmail();
    const data = confirmedData(email);
    const first = await fx.publish("checkout.confirmed", data);
    await sentNotificationOf(first.id);

    const again = await fx.publish("checkout.confirmed", data);

    expect(again.id).not.toBe(first.id);
    await handled(again.id);
    await fx.dispatchDue();
    expect(smtp.to(email)).toHaveLength(1);
    expect(await notificationsOfCheckout(data.checkoutId)).toEqual([
      { event_id: first.id, template: "order-confirmed", status: "sent" },
    ]);
  });

  it("records an email without an address as skipped and sends nothing", async () => {
    const event = await fx.publish("checkout.confirmed", confirmedData(null));

    const [notification] = await waitFor(
      async () => {
        const rows = await notificationsOf(event.id);
        return rows.length === 1 && rows;
      },
      { what: "the notification recorded" },
    );
    expect(notification).toMatchObject({
      status: "skipped",
      attempts: 0,
      last_error: "no email address",
    });
  });
});

describe("notifier.checkout-failed", () => {
  it("sends one email that explains in plain words why the checkout failed", async () => {
    const email = newCustomerEmail();
    const data = failedData(email);

    const event = await fx.publish("checkout.failed", data);

    const [mail] = await waitFor(() => smtp.to(email).length === 1 && smtp.to(email), {
      what: "one email",
    });
    expect(mail?.subject).toBe("We could not place your order");
    expect(mail?.text).toContain("no longer in stock in the quantity you asked for");
    expect(mail?.text).toContain(`Reference: ${data.checkoutId}`);
    expect(mail?.text).not.toContain(data.detail);
    const notification = await sentNotificationOf(event.id);
    expect(notification).toMatchObject({ template: "checkout-failed", status: "sent" });
  });

  it("sends one email per checkout when its failure is re-emitted under a new event id", async () => {
    const email = newCustomerEmail();
    const data = failedData(email);
    const first = await fx.publish("checkout.failed", data);
    await sentNotificationOf(first.id);

    const again = await fx.publish("checkout.failed", data);

    await handled(again.id);
    await fx.dispatchDue();
    expect(smtp.to(email)).toHaveLength(1);
    expect(await notificationsOfCheckout(data.checkoutId)).toEqual([
      { event_id: first.id, template: "checkout-failed", status: "sent" },
    ]);
  });
});
