import { waitFor } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CheckoutFixture,
  type CheckoutJson,
  customerWithCart,
  givenVariant,
  inventoryCommittedFor,
  json,
  outboxEvents,
  startCheckoutFixture,
} from "./helpers.ts";

let fx: CheckoutFixture;
beforeAll(async () => {
  fx = await startCheckoutFixture({ consumers: true });
});
afterAll(() => fx.close());

/** A customer whose cart (2 mugs, 1 spoon) has a checkout processing. */
async function processingCheckout(email = "ada@example.com") {
  const cart = await customerWithCart(fx, email);
  const { id } = await json<CheckoutJson>(await cart.shopper.checkout(uuidv7()));
  const status = async () =>
    (await json<CheckoutJson>(await cart.shopper.call("GET", `/v1/checkouts/${id}`))).status;
  return { ...cart, checkoutId: id, status };
}

describe("checkout.on-inventory-committed", () => {
  it("confirms the checkout, removes exactly the ordered quantities and appends checkout.confirmed", async () => {
    const { shopper, mug, spoon, mugLine, checkoutId, status } = await processingCheckout();
    const fork = await givenVariant(fx, { title: "Fork" });
    await shopper.addLine(mug.variantId, 1);
    await shopper.addLine(fork.variantId, 4);

    const confirmed = inventoryCommittedFor(checkoutId, shopper.id, [
      { variant: mug, qty: 2 },
      { variant: spoon, qty: 1 },
    ]);
    const event = await fx.publish("inventory.committed", confirmed, {
      correlationId: checkoutId,
    });

    await waitFor(async () => (await status()) === "confirmed", { what: "confirmed" });
    const checkout = await json<CheckoutJson>(
      await shopper.call("GET", `/v1/checkouts/${checkoutId}`),
    );
    expect(checkout).toMatchObject({
      orderId: confirmed.orderId,
      orderNumber: confirmed.orderNumber,
    });
    const cart = await shopper.cart();
    expect(cart.lines.map((l) => [l.id === mugLine.id ? "mug" : l.variantId, l.qty])).toEqual([
      ["mug", 1],
      [fork.variantId, 4],
    ]);
    const [emitted, ...more] = await outboxEvents(fx, "checkout.confirmed", checkoutId);
    expect(more).toEqual([]);
    expect(emitted?.causationId).toBe(event.id);
    expect(emitted?.data).toEqual({
      checkoutId,
      customerId: shopper.id,
      customerEmail: "ada@example.com",
      orderId: confirmed.orderId,
      orderNumber: confirmed.orderNumber,
      items: confirmed.items,
      totalMinor: 30_00,
      currency: "EUR",
    });
  });

  it("applies a redelivered inventory.committed once", async () => {
    const { shopper, mug, spoon, checkoutId, status } = await processingCheckout();
    const confirmed = inventoryCommittedFor(checkoutId, shopper.id, [
      { variant: mug, qty: 2 },
      { variant: spoon, qty: 1 },
    ]);
    const event = await fx.publish("inventory.committed", confirmed, {
      correlationId: checkoutId,
    });
    await waitFor(async () => (await status()) === "confirmed", { what: "confirmed" });
    await fx.sql`update outbox set published_at = now() where correlation_id = ${checkoutId}`;
    await shopper.addLine(mug.variantId, 2);

    await fx.redeliver(event);
    await waitFor(
      async () => {
        const [row] = await fx.sql`
          select published_at from outbox where type = 'checkout.confirmed' and correlation_id = ${checkoutId}`;
        return row?.published_at === null;
      },
      { what: "the duplicate re-sending the checkout.confirmed it caused" },
    );

    expect(await outboxEvents(fx, "checkout.confirmed", checkoutId)).toHaveLength(1);
    expect((await shopper.cart()).lines.map((l) => l.qty)).toEqual([2]);
  });
});

describe("checkout.on-inventory-rejected", () => {
  it("fails the checkout with out_of_stock when one line is short, keeps the cart, appends checkout.failed", async () => {
    const { shopper, mug, checkoutId, status } = await processingCheckout();
    const lines = [
      {
        variantId: mug.variantId,
        reason: "out_of_stock" as const,
        requestedQty: 2,
        availableQty: 1,
      },
    ];

    await fx.publish(
      "inventory.rejected",
      { checkoutId, reason: "out_of_stock", lines },
      { correlationId: checkoutId },
    );

    await waitFor(async () => (await status()) === "failed", { what: "failed" });
    const checkout = await json<CheckoutJson>(
      await shopper.call("GET", `/v1/checkouts/${checkoutId}`),
    );
    const detail = "We could not reserve your items: Blue mug: 2 requested, 1 available.";
    expect(checkout.failure).toEqual({ reason: "out_of_stock", detail, lines });
    expect((await shopper.cart()).lines.map((l) => l.qty)).toEqual([2, 1]);
    const [emitted] = await outboxEvents(fx, "checkout.failed", checkoutId);
    expect(emitted?.data).toEqual({
      checkoutId,
      customerId: shopper.id,
      customerEmail: "ada@example.com",
      reason: "out_of_stock",
      detail,
    });
    expect((await shopper.checkout(uuidv7())).status).toBe(202);
  });
});

describe("checkout.on-orders-failed", () => {
  it("fails the checkout with order_failed and appends checkout.failed", async () => {
    const { shopper, checkoutId, status } = await processingCheckout();

    const failedOrder = {
      checkoutId,
      reservationId: uuidv7(),
      customerId: shopper.id,
      detail: "db down",
    };
    await fx.publish("orders.failed", failedOrder, { correlationId: checkoutId });

    await waitFor(async () => (await status()) === "failed", { what: "failed" });
    const checkout = await json<CheckoutJson>(
      await shopper.call("GET", `/v1/checkouts/${checkoutId}`),
    );
    const detail = "We could not create your order: db down";
    expect(checkout.failure).toEqual({ reason: "order_failed", detail });
    const [emitted] = await outboxEvents(fx, "checkout.failed", checkoutId);
    expect(emitted?.data).toMatchObject({
      reason: "order_failed",
      customerEmail: "ada@example.com",
      detail,
    });
  });
});

describe("checkout.on-inventory-reservation-expired", () => {
  it("fails the checkout with reservation_expired, keeps the cart, appends checkout.failed in plain words", async () => {
    const { shopper, checkoutId, status } = await processingCheckout();

    const event = await fx.publish(
      "inventory.reservation_expired",
      { checkoutId, reservationId: uuidv7(), expiredAt: new Date().toISOString() },
      { correlationId: checkoutId },
    );

    await waitFor(async () => (await status()) === "failed", { what: "failed" });
    const checkout = await json<CheckoutJson>(
      await shopper.call("GET", `/v1/checkouts/${checkoutId}`),
    );
    expect(checkout.failure?.reason).toBe("reservation_expired");
    expect(checkout.failure?.detail).toMatch(/could not be completed in time/);
    expect((await shopper.cart()).lines.map((l) => l.qty)).toEqual([2, 1]);
    const [emitted, ...more] = await outboxEvents(fx, "checkout.failed", checkoutId);
    expect(more).toEqual([]);
    expect(emitted?.causationId).toBe(event.id);
    expect(emitted?.data).toEqual({
      checkoutId,
      customerId: shopper.id,
      customerEmail: "ada@example.com",
      reason: "reservation_expired",
      detail: checkout.failure?.detail,
    });
  });
});

describe("an outcome for a checkout already terminal", () => {
  const lateOutcomes = (event: string, state: string) =>
    fx.counter("codflow_checkout_late_outcomes_total", { event, state });

  it("is recorded, not applied: inventory.committed after the checkout failed leaves it failed and the cart whole", async () => {
    const { shopper, mug, spoon, checkoutId, status } = await processingCheckout();
    const rejected = {
      checkoutId,
      reason: "product_unavailable" as const,
      lines: [{ variantId: spoon.variantId, reason: "product_unavailable" as const }],
    };
    await fx.publish("inventory.rejected", rejected, { correlationId: checkoutId });
    await waitFor(async () => (await status()) === "failed", { what: "failed" });
    const before = await lateOutcomes("inventory.committed", "failed");

    const late = inventoryCommittedFor(checkoutId, shopper.id, [{ variant: mug, qty: 2 }]);
    const event = await fx.publish("inventory.committed", late, { correlationId: checkoutId });
    await waitFor(() => fx.handled("checkout.on-inventory-committed", event.id), {
      what: "the late inventory.committed handled",
    });

    expect(await status()).toBe("failed");
    expect(await outboxEvents(fx, "checkout.confirmed", checkoutId)).toEqual([]);
    expect(await outboxEvents(fx, "checkout.failed", checkoutId)).toHaveLength(1);
    expect((await shopper.cart()).lines.map((l) => l.qty)).toEqual([2, 1]);
    expect(await lateOutcomes("inventory.committed", "failed")).toBe(before + 1);
  });

  it("is recorded, not applied: reservation_expired after the checkout confirmed leaves it confirmed", async () => {
    const { shopper, mug, spoon, checkoutId, status } = await processingCheckout();
    const committed = inventoryCommittedFor(checkoutId, shopper.id, [
      { variant: mug, qty: 2 },
      { variant: spoon, qty: 1 },
    ]);
    await fx.publish("inventory.committed", committed, { correlationId: checkoutId });
    await waitFor(async () => (await status()) === "confirmed", { what: "confirmed" });
    const before = await lateOutcomes("inventory.reservation_expired", "confirmed");

    const event = await fx.publish(
      "inventory.reservation_expired",
      { checkoutId, reservationId: committed.reservationId, expiredAt: new Date().toISOString() },
      { correlationId: checkoutId },
    );
    await waitFor(() => fx.handled("checkout.on-inventory-reservation-expired", event.id), {
      what: "the late reservation_expired handled",
    });

    expect(await status()).toBe("confirmed");
    expect(await outboxEvents(fx, "checkout.failed", checkoutId)).toEqual([]);
    expect(await lateOutcomes("inventory.reservation_expired", "confirmed")).toBe(before + 1);
  });
});

describe("checkout.catalog-replica", () => {
  it("keeps the newest revision of a variant and ignores an older one arriving later", async () => {
    const variantId = uuidv7();
    const base = {
      variantId,
      productId: uuidv7(),
      productSlug: "teapot",
      vendorId: uuidv7(),
      sku: "TEA-1",
      title: "Teapot",
      currency: "EUR",
    };
    await fx.publish(
      "inventory.variant_upserted",
      { ...base, priceMinor: 20_00, sellable: true, revision: 2 },
      { correlationId: variantId },
    );
    const older = await fx.publish(
      "inventory.variant_upserted",
      { ...base, priceMinor: 10_00, sellable: false, revision: 1 },
      { correlationId: variantId },
    );

    await waitFor(() => fx.handled("checkout.catalog-replica", older.id), {
      what: "older handled",
    });
    const [row] = await fx.sql`
      select price_minor, sellable, revision from catalog_variants where variant_id = ${variantId}`;
    expect(row).toEqual({ price_minor: 20_00, sellable: true, revision: 2 });
  });
});
