import { metricValue, scrapeMetrics, waitFor } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedriver } from "../src/index.ts";
import {
  type CheckoutFixture,
  type CheckoutJson,
  customerWithCart,
  inventoryCommittedFor,
  json,
  startCheckoutFixture,
} from "./helpers.ts";

const DEADLINE_SECONDS = 900;

let fx: CheckoutFixture;
beforeAll(async () => {
  fx = await startCheckoutFixture({ consumers: true });
});
afterAll(() => fx.close());

const metrics = async () => {
  const text = await scrapeMetrics(fx.app);
  return (name: string, labels: Record<string, string> = {}) => metricValue(text, name, labels);
};

async function acceptedCheckout() {
  const cart = await customerWithCart(fx);
  const res = await cart.shopper.checkout(uuidv7());
  expect(res.status).toBe(202);
  const { id } = await json<CheckoutJson>(res);
  const status = async () =>
    (await json<CheckoutJson>(await cart.shopper.call("GET", `/v1/checkouts/${id}`))).status;
  return { ...cart, checkoutId: id, status };
}

describe("checkout /metrics", () => {
  it("counts checkouts by outcome and reason after commit, with their accepted→terminal latency and the processing backlog", async () => {
    // given three accepted checkouts (and a replay of one, which is not a new acceptance)
    const confirmed = await acceptedCheckout();
    const rejected = await acceptedCheckout();
    const overdue = await acceptedCheckout();
    await fx.sql`update checkouts set created_at = now() - interval '1000 seconds'
                 where id = ${overdue.checkoutId}`;
    const replayKey = uuidv7();
    const replayed = await customerWithCart(fx);
    await replayed.shopper.checkout(replayKey);
    await replayed.shopper.checkout(replayKey);

    let m = await metrics();
    expect(m("codflow_checkouts_total", { outcome: "accepted", reason: "" })).toBe(4);
    expect(m("codflow_checkouts_processing")).toBe(4);
    expect(m("codflow_checkout_oldest_processing_age_seconds")).toBeGreaterThanOrEqual(1000);
    expect(m("codflow_outbox_pending")).toBe(4);
    expect(m("codflow_outbox_oldest_pending_age_seconds")).toBeGreaterThanOrEqual(0);

    // when inventory commits one, rejects one, and the re-driver times the overdue one out
    await fx.publish(
      "inventory.committed",
      inventoryCommittedFor(confirmed.checkoutId, confirmed.shopper.id, [
        { variant: confirmed.mug, qty: 2 },
        { variant: confirmed.spoon, qty: 1 },
      ]),
      { correlationId: confirmed.checkoutId },
    );
    await fx.publish(
      "inventory.rejected",
      {
        checkoutId: rejected.checkoutId,
        reason: "out_of_stock",
        lines: [
          {
            variantId: rejected.mug.variantId,
            reason: "out_of_stock",
            requestedQty: 2,
            availableQty: 1,
          },
        ],
      },
      { correlationId: rejected.checkoutId },
    );
    fx.track(
      startRedriver({
        config: {
          CHECKOUT_REDRIVE_INTERVAL_MS: 50,
          CHECKOUT_REDRIVE_AFTER_SECONDS: 600,
          CHECKOUT_DEADLINE_SECONDS: DEADLINE_SECONDS,
        },
        sql: fx.sql,
        namespace: fx.namespace,
        logger: fx.logger,
        metrics: fx.checkoutMetrics,
      }),
    );
    await waitFor(async () => (await confirmed.status()) === "confirmed", { what: "confirmed" });
    await waitFor(async () => (await rejected.status()) === "failed", { what: "rejected" });
    await waitFor(async () => (await overdue.status()) === "failed", { what: "timed out" });
    await waitFor(
      async () =>
        (await metrics())("codflow_checkouts_total", {
          outcome: "failed",
          reason: "out_of_stock",
        }) === 1,
      { what: "the rejection counted after its commit" },
    );

    // then
    m = await metrics();
    expect(m("codflow_checkouts_total", { outcome: "confirmed", reason: "" })).toBe(1);
    expect(m("codflow_checkouts_total", { outcome: "failed", reason: "timed_out" })).toBe(1);
    expect(m("codflow_checkout_duration_seconds_count", { outcome: "confirmed" })).toBe(1);
    expect(m("codflow_checkout_duration_seconds_count", { outcome: "failed" })).toBe(2);
    expect(m("codflow_checkout_duration_seconds_bucket", { outcome: "failed", le: "120" })).toBe(1);
    expect(m("codflow_checkout_duration_seconds_sum", { outcome: "failed" })).toBeGreaterThan(1000);
    expect(m("codflow_checkouts_processing")).toBe(1);
    expect(m("codflow_checkout_deadline_seconds")).toBe(DEADLINE_SECONDS);
    expect(
      m("codflow_consumer_messages_total", {
        consumer: "checkout.on-inventory-committed",
        result: "ok",
      }),
    ).toBe(1);
    expect(
      m("codflow_consumer_pending_messages", { consumer: "checkout.on-inventory-committed" }),
    ).toBe(0);
    expect(
      m("codflow_consumer_ack_pending_messages", { consumer: "checkout.on-inventory-rejected" }),
    ).toBe(0);
    expect(m("codflow_dead_letter_messages")).toBe(0);
    expect(m("codflow_http_requests_total", { route: "/v1/checkouts", method: "POST" })).toBe(5);
  });
});
