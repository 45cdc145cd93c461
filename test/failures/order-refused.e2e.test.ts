import { waitFor } from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MailSink } from "../../scripts/lib/mail-sink.ts";
import {
  type Databases,
  FAILED_SUBJECT,
  type FailureRig,
  listDeadLetters,
  mailsTo,
  type Storefront,
  startFailureRig,
  stockOf,
} from "../support/failure-kit.ts";
import { checkInvariant } from "../support/invariants.ts";
import { waitForQuiescence } from "../support/quiescence.ts";
import type { Stack } from "../support/stack.ts";

let rig: FailureRig;
let smtp: MailSink;
let stack: Stack;
let shop: Storefront;
let db: Databases;

beforeAll(async () => {
  rig = await startFailureRig({
    CONSUMER_MAX_DELIVER: "3",
    CONSUMER_BACKOFF_BASE_MS: "50",
  });
  ({ smtp, stack, shop, db } = rig);
}, 120_000);

afterAll(() => rig?.stop());

describe("orders refuses the order for good (issue 3, item 3)", () => {
  it("dead-letters inventory.reserved with its reason, releases the stock and fails the checkout order_failed", async () => {
    const product = await shop.seedProduct("Vanished", {
      sku: "kettle",
      priceMinor: 4000,
      stock: 3,
    });
    await waitFor(
      async () =>
        (await db.orders`select 1 from vendors where id = ${product.vendorId}`).length === 1,
      { what: "the vendor in orders' replica" },
    );
    const buyer = await shop.customer("refused");
    await shop.addToCart(buyer.token, product.variant.id, 2);
    // The replica loses the vendor for good: every attempt to insert the order now breaks
    // the order_items → vendors foreign key, and no later event brings the vendor back.
    await db.orders`delete from vendors where id = ${product.vendorId}`;

    const accepted = await shop.placeCheckout(buyer, { waitSeconds: 10 });
    expect([200, 202]).toContain(accepted.status);
    const checkout = await shop.outcomeOf(buyer.token, accepted.body.id);

    expect(checkout.status).toBe("failed");
    expect(checkout.failure.reason).toBe("order_failed");
    expect(checkout.orderId).toBeUndefined();
    expect(await db.orders`select id from orders where checkout_id = ${checkout.id}`).toEqual([]);

    const { letters } = await listDeadLetters(stack);
    const reserved = letters.filter((l) => l.eventType === "inventory.reserved");
    expect(reserved).toEqual([
      expect.objectContaining({
        consumer: "orders.create-order",
        originalSubject: `${stack.namespace}.inventory.reserved`,
        deliveries: 3,
        reason: expect.stringMatching(/vendor/),
      }),
    ]);

    await waitFor(async () => (await stockOf(db.inventory, product.variant.id)).available === 3, {
      what: "the reservation released",
    });
    expect(await stockOf(db.inventory, product.variant.id)).toMatchObject({
      onHand: 3,
      reserved: 0,
      committed: 0,
    });
    const [reservation] = await db.inventory<{ status: string }[]>`
      select status::text from reservations where checkout_id = ${checkout.id}`;
    expect(reservation?.status).toBe("released");
    expect(await shop.availableQty(product.slug, product.variant.id)).toBe(3);

    expect(await shop.cartLines(buyer.token)).toEqual([
      expect.objectContaining({ variantId: product.variant.id, qty: 2 }),
    ]);

    await waitFor(() => mailsTo(smtp, buyer.email).length > 0, { what: "the failure email" });
    expect(await waitForQuiescence(stack, { timeoutMs: 15_000 })).toEqual({ deadLetters: 1 });
    expect(await checkInvariant(stack.databaseUrls)).toEqual([]);
    const mails = mailsTo(smtp, buyer.email);
    expect(mails).toHaveLength(1);
    expect(mails[0]?.subject).toMatch(FAILED_SUBJECT);
  });
});
