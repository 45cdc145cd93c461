import { metricValue, scrapeMetrics, waitFor } from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { onCheckoutRequested, sweepExpiredReservations } from "../src/index.ts";
import { checkoutRequested, type Inventory, seedProduct, startInventory } from "./helpers.ts";

let fx: Inventory;
beforeAll(async () => {
  fx = await startInventory();
  fx.consume(onCheckoutRequested({ reservationTtlSeconds: 900, metrics: fx.inventoryMetrics }));
});
afterAll(() => fx.close());

const metrics = async () => {
  const text = await scrapeMetrics(fx.app);
  return (name: string, labels: Record<string, string> = {}) => metricValue(text, name, labels);
};

describe("inventory /metrics", () => {
  it("counts reservations made and refused (by reason) and reports the active ones", async () => {
    const product = await seedProduct(fx, [{ stock: 3 }]);
    const variantId = product.variants[0]?.id ?? "";
    const fits = checkoutRequested([{ variantId, qty: 2 }]);
    const short = checkoutRequested([{ variantId, qty: 2 }]);
    const repriced = checkoutRequested([{ variantId, qty: 1, unitPriceMinor: 1 }]);

    await fx.publish("checkout.requested", fits);
    await waitFor(
      async () =>
        (await metrics())("codflow_reservations_total", { result: "reserved", reason: "" }) === 1,
      { what: "one reservation counted" },
    );
    await fx.publish("checkout.requested", short);
    await fx.publish("checkout.requested", repriced);
    await waitFor(
      async () => {
        const m = await metrics();
        return (
          m("codflow_reservations_total", { result: "rejected", reason: "out_of_stock" }) === 1 &&
          m("codflow_reservations_total", { result: "rejected", reason: "price_changed" }) === 1
        );
      },
      { what: "two rejections counted" },
    );

    let m = await metrics();
    expect(m("codflow_reservations_active")).toBe(1);
    expect(m("codflow_reservations_expired_total")).toBe(0);
    expect(m("codflow_consumer_pending_messages", { consumer: "inventory.reserve-stock" })).toBe(0);

    // when the reservation's time is up and the sweeper runs
    await fx.sql`update reservations set expires_at = now() - interval '1 second'
                 where checkout_id = ${fits.checkoutId}`;
    await sweepExpiredReservations({
      sql: fx.sql,
      namespace: fx.namespace,
      logger: fx.logger,
      metrics: fx.inventoryMetrics,
    });
    m = await metrics();
    expect(m("codflow_reservations_active")).toBe(0);
    expect(m("codflow_reservations_expired_total")).toBe(1);
  });
});
