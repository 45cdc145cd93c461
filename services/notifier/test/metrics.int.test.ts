import { metricValue, scrapeMetrics, waitFor } from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/index.ts";
import { confirmedData, failedData, newCustomerEmail, startNotifierFixture } from "./helpers.ts";
import { startSmtpServer } from "./smtp.ts";

let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
let fx: Awaited<ReturnType<typeof startNotifierFixture>>;
let app: ReturnType<typeof createApp>;
beforeAll(async () => {
  smtp = await startSmtpServer();
  fx = await startNotifierFixture({ smtpPort: smtp.port, retryBaseMs: 100 });
  app = createApp({ logger: fx.logger, metrics: fx.metrics, readiness: [] });
});
afterAll(async () => {
  await fx?.close();
  await smtp?.stop();
});

const metrics = async () => {
  const text = await scrapeMetrics(app);
  return (name: string, labels: Record<string, string> = {}) => metricValue(text, name, labels);
};

describe("notifier /metrics", () => {
  it("exports every failure series at 0 from the start, so an alert's increase() sees the first one", async () => {
    const m = await metrics();
    expect(m("codflow_sms_total", { result: "failed" })).toBeDefined();
    expect(m("codflow_sms_total", { result: "expired" })).toBeDefined();
    for (const template of ["order-confirmed", "delivery-failed", "order-cancelled"]) {
      expect(m("codflow_notifications_total", { template, result: "failed" })).toBeDefined();
    }
  });

  it("reports the emails waiting while the SMTP server refuses them, and counts them sent once it accepts", async () => {
    // given an SMTP server answering 451 to every message
    smtp.state.rejecting = true;
    const confirmedTo = newCustomerEmail();
    const failedTo = newCustomerEmail();
    await fx.publish("checkout.confirmed", confirmedData(confirmedTo));
    await fx.publish("checkout.failed", failedData(failedTo));

    await waitFor(
      async () => {
        const m = await metrics();
        return (
          m("codflow_notifications_pending") === 2 &&
          (m("codflow_notifications_total", { template: "order-confirmed", result: "retry" }) ??
            0) >= 1
        );
      },
      { what: "two emails pending, a failed attempt counted as retry" },
    );

    // when it accepts again
    smtp.state.rejecting = false;
    await waitFor(() => smtp.to(confirmedTo).length === 1 && smtp.to(failedTo).length === 1, {
      what: "both emails sent",
    });
    await waitFor(async () => (await metrics())("codflow_notifications_pending") === 0, {
      what: "nothing pending",
    });
    const m = await metrics();
    expect(m("codflow_notifications_total", { template: "order-confirmed", result: "sent" })).toBe(
      1,
    );
    expect(
      m("codflow_consumer_pending_messages", { consumer: "notifier.checkout-confirmed" }),
    ).toBe(0);
  });
});
