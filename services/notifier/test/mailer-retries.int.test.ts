import { freePort, waitFor } from "@codflow/shared/testing";
import { afterEach, describe, expect, it } from "vitest";
import { confirmedData, newCustomerEmail, startNotifierFixture } from "./helpers.ts";
import { startSmtpServer } from "./smtp.ts";

type Fixture = Awaited<ReturnType<typeof startNotifierFixture>>;
type Smtp = Awaited<ReturnType<typeof startSmtpServer>>;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
const started = <T extends Fixture | Smtp>(thing: T) => {
  cleanups.push(() => ("stop" in thing ? thing.stop() : thing.close()));
  return thing;
};

const notificationOf = async (fx: Fixture, eventId: string) => {
  const [row] = await fx.sql`
    select status, attempts, last_error, sent_at from notifications where event_id = ${eventId}`;
  return row;
};

describe("the mailer", () => {
  it("retries while the SMTP server is down and sends the email once when it comes up", async () => {
    const port = await freePort();
    const fx = started(await startNotifierFixture({ smtpPort: port, retryBaseMs: 100 }));
    const email = newCustomerEmail();

    const event = await fx.publish("checkout.confirmed", confirmedData(email));
    await waitFor(async () => ((await notificationOf(fx, event.id))?.attempts ?? 0) >= 2, {
      what: "two failed attempts",
    });
    const failing = await notificationOf(fx, event.id);
    expect(failing).toMatchObject({ status: "pending", sent_at: null });
    expect(failing?.last_error).toMatch(/ECONNREFUSED/);
    const smtp = started(await startSmtpServer(port));

    await waitFor(async () => (await notificationOf(fx, event.id))?.status === "sent", {
      timeoutMs: 20_000,
      what: "the email sent",
    });
    expect(smtp.to(email)).toHaveLength(1);
    expect(
      await fx.counter("codflow_notifications_total", {
        template: "order-confirmed",
        result: "retry",
      }),
    ).toBeGreaterThanOrEqual(2);
  });

  it("backs off exponentially while the server answers 451 and sends once it accepts", async () => {
    const smtp = started(await startSmtpServer());
    smtp.state.rejecting = true;
    const fx = started(await startNotifierFixture({ smtpPort: smtp.port, retryBaseMs: 200 }));
    const email = newCustomerEmail();

    const event = await fx.publish("checkout.confirmed", confirmedData(email));
    await waitFor(() => smtp.attempts.length >= 3, { what: "three rejected attempts" });
    smtp.state.rejecting = false;

    await waitFor(async () => (await notificationOf(fx, event.id))?.status === "sent", {
      timeoutMs: 20_000,
      what: "the email sent",
    });
    expect(smtp.to(email)).toHaveLength(1);
    const [first, second, third] = smtp.attempts.map((a) => a.at);
    expect((second ?? 0) - (first ?? 0)).toBeGreaterThanOrEqual(200);
    expect((third ?? 0) - (second ?? 0)).toBeGreaterThanOrEqual(400);
  });

  it("sends the rest of a batch when one email in it fails, and retries only that one", async () => {
    const smtp = started(await startSmtpServer());
    const busy = newCustomerEmail();
    smtp.state.busyMailboxes.add(busy);
    const fx = started(await startNotifierFixture({ smtpPort: smtp.port, retryBaseMs: 100 }));
    await fx.mailer.stop();
    const others = [newCustomerEmail(), newCustomerEmail(), newCustomerEmail()];
    const events = await Promise.all(
      [busy, ...others].map((email) => fx.publish("checkout.confirmed", confirmedData(email))),
    );
    await waitFor(async () => (await fx.sql`select 1 from notifications`).length === 4, {
      what: "four emails queued",
    });

    await fx.dispatchDue();

    for (const email of others) expect(smtp.to(email)).toHaveLength(1);
    expect(smtp.to(busy)).toHaveLength(0);
    expect(await notificationOf(fx, events[0]?.id ?? "")).toMatchObject({
      status: "pending",
      attempts: 1,
    });
    smtp.state.busyMailboxes.clear();
    await waitFor(
      async () => {
        await fx.dispatchDue();
        return (await notificationOf(fx, events[0]?.id ?? ""))?.status === "sent";
      },
      { what: "the busy mailbox's email sent once its retry is due" },
    );
    expect(smtp.to(busy)).toHaveLength(1);
    for (const email of others) expect(smtp.to(email)).toHaveLength(1);
  });

  it("marks the email failed after the last attempt and stops trying", async () => {
    const smtp = started(await startSmtpServer());
    smtp.state.rejecting = true;
    const fx = started(
      await startNotifierFixture({ smtpPort: smtp.port, maxAttempts: 3, retryBaseMs: 50 }),
    );

    const event = await fx.publish("checkout.confirmed", confirmedData(newCustomerEmail()));

    await waitFor(async () => (await notificationOf(fx, event.id))?.status === "failed", {
      what: "the email failed",
    });
    const failed = await notificationOf(fx, event.id);
    expect(failed).toMatchObject({ attempts: 3, sent_at: null });
    expect(failed?.last_error).toMatch(/451/);
    await fx.dispatchDue();
    expect(smtp.attempts).toHaveLength(3);
    expect(smtp.received).toHaveLength(0);
    expect(
      await fx.counter("codflow_notifications_total", {
        template: "order-confirmed",
        result: "failed",
      }),
    ).toBe(1);
  });
});
