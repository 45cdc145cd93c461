import { waitFor } from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MailSink } from "../../scripts/lib/mail-sink.ts";
import {
  type Databases,
  type FailureRig,
  mailsTo,
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

describe("a cart whose checkout is still processing (issue 3, item 8)", () => {
  it("refuses a second checkout with 409 checkout-in-progress, and keeps the lines added meanwhile", async () => {
    const books = await shop.seedProduct("Bookbinder", { sku: "book", priceMinor: 1800, stock: 5 });
    const pens = await shop.seedProduct("Penmaker", { sku: "pen", priceMinor: 300, stock: 20 });
    const buyer = await shop.customer("eager");
    await shop.addToCart(buyer.token, books.variant.id, 1);
    await waitFor(
      async () =>
        (await db.checkout`select 1 from catalog_variants where variant_id = ${pens.variant.id}`)
          .length === 1,
      { what: "the pen in checkout's catalog replica" },
    );

    // With inventory down nothing can answer the checkout: it stays processing for the test.
    // Stopped, not crashed: a crash would leave its last publishes unmarked until their lease
    // runs out (30 s), longer than this test waits for quiet.
    await stack.kill("inventory");
    const first = await shop.placeCheckout(buyer);
    expect(first.status).toBe(202);
    expect(first.body.status).toBe("processing");

    const second = await shop.placeCheckout(buyer);
    expect(second.status).toBe(409);
    expect(second.headers.get("content-type")).toMatch(/application\/problem\+json/);
    expect(second.body.type).toMatch(/\/checkout-in-progress$/);
    expect(
      (
        await db.checkout<{ n: number }[]>`
        select count(*)::int as n from checkouts where customer_id = ${buyer.id}`
      )[0]?.n,
    ).toBe(1);

    await shop.addToCart(buyer.token, pens.variant.id, 2);
    await stack.start("inventory");
    const checkout = await shop.outcomeOf(buyer.token, first.body.id);

    expect(checkout.status).toBe("confirmed");
    const order = await shop.api.get(`/v1/orders/${checkout.orderId}`, { token: buyer.token });
    expect(order.body.items).toEqual([
      expect.objectContaining({ variantId: books.variant.id, qty: 1 }),
    ]);
    expect(await shop.cartLines(buyer.token)).toEqual([
      expect.objectContaining({ variantId: pens.variant.id, qty: 2 }),
    ]);

    await waitFor(() => mailsTo(smtp, buyer.email).length > 0, { what: "the confirmation" });
    expect(await waitForQuiescence(stack, { timeoutMs: 15_000 })).toEqual({ deadLetters: 0 });
    expect(await checkInvariant(stack.databaseUrls)).toEqual([]);
    expect(mailsTo(smtp, buyer.email)).toHaveLength(1);
  });
});
