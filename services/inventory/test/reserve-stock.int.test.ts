import { waitFor } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { onCheckoutRequested } from "../src/index.ts";
import {
  checkoutRequested,
  type Inventory,
  ledgerMismatches,
  type OutboxEvent,
  outboxEvents,
  seedProduct,
  startInventory,
  stockLevel,
} from "./helpers.ts";

let fx: Inventory;
beforeAll(async () => {
  fx = await startInventory();
  fx.consume(onCheckoutRequested({ reservationTtlSeconds: 900 }));
});
afterAll(() => fx.close());

type Outcome = OutboxEvent<{
  checkoutId: string;
  reason?: string;
  lines: Record<string, unknown>[];
}>;

/** The inventory.reserved or inventory.rejected this checkout caused, once it is there. */
const outcomeOf = (checkoutId: string) =>
  waitFor(
    async () =>
      (await outboxEvents(fx)).find(
        (e): e is Outcome =>
          e.correlationId === checkoutId && e.type !== "inventory.variant_upserted",
      ),
    { what: `the outcome of checkout ${checkoutId}` },
  );

const reservationsOf = (checkoutId: string) =>
  fx.sql`select id, status, expires_at from reservations where checkout_id = ${checkoutId}`;

describe("inventory.reserve-stock", () => {
  it("reserves every line with an expiry and emits inventory.reserved with line snapshots, no phone or address", async () => {
    const product = await seedProduct(fx, [{ stock: 5, title: "Small" }, { stock: 5 }]);
    const [small, plain] = product.variants.map((v) => v.id);
    const request = checkoutRequested([
      { variantId: small ?? "", qty: 2 },
      { variantId: plain ?? "", qty: 1 },
    ]);
    const requested = await fx.publish("checkout.requested", request);

    const outcome = await outcomeOf(request.checkoutId);
    expect(outcome.type).toBe("inventory.reserved");
    expect(outcome.causationId).toBe(requested.id);
    const [reservation] = await reservationsOf(request.checkoutId);
    expect(reservation?.status).toBe("active");
    const ttl = new Date(reservation?.expires_at).getTime() - Date.now();
    expect(ttl).toBeGreaterThan(800_000);
    expect(ttl).toBeLessThanOrEqual(900_000);
    expect(outcome.data).toEqual({
      checkoutId: request.checkoutId,
      reservationId: reservation?.id,
      expiresAt: new Date(reservation?.expires_at).toISOString(),
      customerId: request.customerId,
      totalMinor: 3000,
      currency: "EUR",
      lines: [
        {
          variantId: small,
          productSlug: product.slug,
          vendorId: product.vendorId,
          sku: product.variants[0]?.sku,
          title: "Mug - Small",
          unitPriceMinor: 1000,
          qty: 2,
        },
        expect.objectContaining({ variantId: plain, title: "Mug", qty: 1 }),
      ],
    });
    expect(await stockLevel(fx, small ?? "")).toEqual({ onHand: 5, reserved: 2, committed: 0 });
    const ledger = await fx.sql`select kind, reserved_delta, checkout_id from stock_movements
                                where reservation_id = ${reservation?.id} order by variant_id`;
    expect(ledger).toHaveLength(2);
    expect(ledger.every((m) => m.kind === "reserve" && m.checkout_id === request.checkoutId)).toBe(
      true,
    );
    expect(await ledgerMismatches(fx)).toEqual([]);
  });

  it("reserves nothing and rejects out_of_stock with per-line details when one of three lines is short", async () => {
    const product = await seedProduct(fx, [{ stock: 5 }, { stock: 1 }, { stock: 5 }]);
    const [a, short, c] = product.variants.map((v) => v.id ?? "");
    const request = checkoutRequested([
      { variantId: a ?? "", qty: 2 },
      { variantId: short ?? "", qty: 2 },
      { variantId: c ?? "", qty: 2 },
    ]);
    await fx.publish("checkout.requested", request);

    const outcome = await outcomeOf(request.checkoutId);
    expect(outcome.type).toBe("inventory.rejected");
    expect(outcome.data).toEqual({
      checkoutId: request.checkoutId,
      reason: "out_of_stock",
      lines: [{ variantId: short, reason: "out_of_stock", requestedQty: 2, availableQty: 1 }],
    });
    for (const id of [a, short, c]) expect((await stockLevel(fx, id ?? ""))?.reserved).toBe(0);
    expect(await reservationsOf(request.checkoutId)).toHaveLength(0);
    const moves =
      await fx.sql`select 1 from stock_movements where checkout_id = ${request.checkoutId}`;
    expect(moves).toHaveLength(0);
  });

  it("rejects price_changed when a price moved since the customer saw it", async () => {
    const product = await seedProduct(fx, [{ stock: 5 }, { stock: 5 }]);
    const [same, moved] = product.variants.map((v) => v.id);
    await fx.admin("PATCH", `/v1/admin/catalog/variants/${moved}`, { priceMinor: 1250 });
    const request = checkoutRequested([
      { variantId: same ?? "", qty: 1 },
      { variantId: moved ?? "", qty: 1 },
    ]);
    await fx.publish("checkout.requested", request);

    const outcome = await outcomeOf(request.checkoutId);
    expect(outcome.data).toEqual({
      checkoutId: request.checkoutId,
      reason: "price_changed",
      lines: [
        {
          variantId: moved,
          reason: "price_changed",
          expectedPriceMinor: 1000,
          currentPriceMinor: 1250,
        },
      ],
    });
    expect((await stockLevel(fx, same ?? ""))?.reserved).toBe(0);
  });

  it("rejects product_unavailable for an archived product, an inactive variant or an unknown one", async () => {
    const archived = await seedProduct(fx);
    await fx.admin("DELETE", `/v1/admin/catalog/products/${archived.id}`);
    const switchedOff = await seedProduct(fx);
    await fx.admin("PATCH", `/v1/admin/catalog/variants/${switchedOff.variants[0]?.id}`, {
      active: false,
    });
    const unknown = uuidv7();
    const request = checkoutRequested([
      { variantId: archived.variants[0]?.id ?? "", qty: 1 },
      { variantId: switchedOff.variants[0]?.id ?? "", qty: 1 },
      { variantId: unknown, qty: 1 },
    ]);
    await fx.publish("checkout.requested", request);

    const outcome = await outcomeOf(request.checkoutId);
    expect(outcome.data.reason).toBe("product_unavailable");
    expect(outcome.data.lines).toEqual(
      [archived.variants[0]?.id, switchedOff.variants[0]?.id, unknown].map((variantId) => ({
        variantId,
        reason: "product_unavailable",
      })),
    );
    expect(await reservationsOf(request.checkoutId)).toHaveLength(0);
  });

  it("reserves once and re-sends inventory.reserved when the same event is delivered again", async () => {
    fx.relay();
    const product = await seedProduct(fx, [{ stock: 5 }]);
    const variantId = product.variants[0]?.id ?? "";
    const request = checkoutRequested([{ variantId, qty: 1 }]);
    const first = await fx.publish("checkout.requested", request);
    const outcome = await outcomeOf(request.checkoutId);
    const sentOnce = await waitFor(
      async () => {
        const [row] =
          await fx.sql`select attempts from outbox where id = ${outcome.id} and published_at is not null`;
        return row;
      },
      { what: "inventory.reserved published" },
    );
    expect(sentOnce.attempts).toBe(1);

    await fx.redeliver(first);

    await waitFor(
      async () => {
        const [row] =
          await fx.sql`select attempts from outbox where id = ${outcome.id} and published_at is not null`;
        return row?.attempts === 2;
      },
      { what: "inventory.reserved published a second time" },
    );
    expect(await reservationsOf(request.checkoutId)).toHaveLength(1);
    expect(
      (await outboxEvents(fx, "inventory.reserved")).filter(
        (e) => e.correlationId === request.checkoutId,
      ),
    ).toHaveLength(1);
    expect(await stockLevel(fx, variantId)).toEqual({ onHand: 5, reserved: 1, committed: 0 });
  });

  it("keeps one reservation when a checkout is re-driven under a new event id, and re-sends its output", async () => {
    const product = await seedProduct(fx, [{ stock: 5 }]);
    const variantId = product.variants[0]?.id ?? "";
    const request = checkoutRequested([{ variantId, qty: 2 }]);
    await fx.publish("checkout.requested", request);
    const outcome = await outcomeOf(request.checkoutId);
    await fx.admin("PATCH", `/v1/admin/catalog/variants/${variantId}`, { priceMinor: 1999 });

    await fx.publish("checkout.requested", request);

    await waitFor(
      async () => {
        const [row] =
          await fx.sql`select attempts from outbox where id = ${outcome.id} and published_at is not null`;
        return (row?.attempts as number) >= 2;
      },
      { what: "inventory.reserved re-sent" },
    );
    expect(await reservationsOf(request.checkoutId)).toHaveLength(1);
    expect(await stockLevel(fx, variantId)).toEqual({ onHand: 5, reserved: 2, committed: 0 });
    const outcomes = (await outboxEvents(fx)).filter(
      (e) => e.correlationId === request.checkoutId && e.type.startsWith("inventory.re"),
    );
    expect(outcomes.map((e) => e.type)).toEqual(["inventory.reserved"]);
    expect(await ledgerMismatches(fx)).toEqual([]);
  });
});
