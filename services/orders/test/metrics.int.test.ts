import { metricValue, scrapeMetrics, waitFor } from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkoutFailedData,
  type OrdersFixture,
  publishReserved,
  replicateVendor,
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

const metrics = async () => {
  const text = await scrapeMetrics(fx.app);
  return (name: string, labels: Record<string, string> = {}) => metricValue(text, name, labels);
};

describe("orders /metrics", () => {
  it("counts orders created and every status change, and exports cash mismatches at 0", async () => {
    const kept = reservedData(vendorId);
    const cancelled = reservedData(vendorId);
    await publishReserved(fx, kept);
    await publishReserved(fx, cancelled);
    await waitFor(async () => (await metrics())("codflow_orders_created_total") === 2, {
      what: "two orders counted",
    });

    await fx.publish("checkout.failed", checkoutFailedData(cancelled.checkoutId));
    await waitFor(
      async () =>
        (await metrics())("codflow_order_transitions_total", {
          from: "confirmed",
          to: "cancelled",
        }) === 1,
      { what: "the cancellation counted" },
    );

    const m = await metrics();
    expect(m("codflow_orders_created_total")).toBe(2);
    expect(m("codflow_cash_mismatches_total")).toBe(0);
    expect(m("codflow_consumer_pending_messages", { consumer: "orders.create-order" })).toBe(0);
    await waitFor(async () => (await metrics())("codflow_outbox_pending") === 0, {
      what: "orders.confirmed ×2 and orders.cancelled relayed",
    });
  });
});
