import { metricValue, scrapeMetrics, waitFor } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkoutFailedData, reservedData, startOrdersFixture, vendorData } from "./helpers.ts";

let fx: Awaited<ReturnType<typeof startOrdersFixture>>;
let vendorId: string;
beforeAll(async () => {
  fx = await startOrdersFixture();
  vendorId = uuidv7();
  await fx.publish("inventory.vendor_upserted", vendorData(vendorId));
  await waitFor(
    async () => (await fx.sql`select 1 from vendors where id = ${vendorId}`).length === 1,
    { what: "vendor replicated" },
  );
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
    await fx.publish("inventory.reserved", kept);
    await fx.publish("inventory.reserved", cancelled);
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
