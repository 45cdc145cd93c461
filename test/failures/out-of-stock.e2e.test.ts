import { waitFor } from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MailSink } from "../../scripts/lib/mail-sink.ts";
import {
  type Databases,
  FAILED_SUBJECT,
  type FailureRig,
  mailsTo,
  reserveMovementsOf,
  type Storefront,
  startFailureRig,
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
  rig = await startFailureRig();
  ({ smtp, stack, shop, db } = rig);
}, 120_000);

afterAll(() => rig?.stop());

describe("a checkout with one line short of stock (issue 3, item 1)", () => {
  it("fails out_of_stock naming the short line, reserves nothing, keeps the cart and emails the customer once", async () => {
    const mugs = await shop.seedProduct("Potter", { sku: "mug", priceMinor: 1200, stock: 5 });
    const lamps = await shop.seedProduct("Lamps", { sku: "lamp", priceMinor: 3500, stock: 1 });
    const rugs = await shop.seedProduct("Weaver", { sku: "rug", priceMinor: 9000, stock: 4 });
    const [mug, lamp, rug] = [mugs.variant, lamps.variant, rugs.variant];
    const buyer = await shop.customer("short");
    await shop.addToCart(buyer.token, mug.id, 2);
    await shop.addToCart(buyer.token, lamp.id, 3);
    await shop.addToCart(buyer.token, rug.id, 1);
    const cartBefore = await shop.cartLines(buyer.token);

    const accepted = await shop.placeCheckout(buyer, { waitSeconds: 10 });
    expect([200, 202]).toContain(accepted.status);
    const checkout = await shop.outcomeOf(buyer.token, accepted.body.id);

    expect(checkout.status).toBe("failed");
    expect(checkout.orderId).toBeUndefined();
    expect(checkout.failure.reason).toBe("out_of_stock");
    expect(checkout.failure.lines).toEqual([
      expect.objectContaining({
        variantId: lamp.id,
        reason: "out_of_stock",
        requestedQty: 3,
        availableQty: 1,
      }),
    ]);
    expect(checkout.failure.detail).toMatch(/3 requested, 1 available/);

    expect(await shop.availableQty(mugs.slug, mug.id)).toBe(5);
    expect(await shop.availableQty(lamps.slug, lamp.id)).toBe(1);
    expect(await shop.availableQty(rugs.slug, rug.id)).toBe(4);
    expect(await reserveMovementsOf(db.inventory, checkout.id)).toBe(0);

    const cartAfter = await shop.cartLines(buyer.token);
    expect(cartAfter).toEqual(cartBefore);
    expect(cartAfter.map((l) => [l.variantId, l.qty])).toEqual(
      expect.arrayContaining([
        [mug.id, 2],
        [lamp.id, 3],
        [rug.id, 1],
      ]),
    );

    await waitFor(() => mailsTo(smtp, buyer.email).length > 0, { what: "the failure email" });
    expect(await waitForQuiescence(stack, { timeoutMs: 15_000 })).toEqual({ deadLetters: 0 });
    expect(await checkInvariant(stack.databaseUrls)).toEqual([]);
    const mails = mailsTo(smtp, buyer.email);
    expect(mails).toHaveLength(1);
    expect(mails[0]?.subject).toMatch(FAILED_SUBJECT);
    expect(mails[0]?.text).toMatch(/no longer in stock/);
  });
});
