import { waitFor } from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MailSink } from "../../scripts/lib/mail-sink.ts";
import {
  type Databases,
  FAILED_SUBJECT,
  type FailureRig,
  mailsTo,
  reserveMovementsOf,
  type SeededProduct,
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
  rig = await startFailureRig();
  ({ smtp, stack, shop, db } = rig);
}, 120_000);

afterAll(() => rig?.stop());

/**
 * The catalog changes between add-to-cart and reservation, deterministically: with inventory
 * stopped, checkout accepts the order on its replica (still sellable, old price); the change is then
 * made in inventory's own database, so no event can warn checkout; inventory comes back and
 * judges the request against the changed data.
 */
async function checkoutAfterCatalogChange(
  name: string,
  change: (product: SeededProduct) => Promise<unknown>,
) {
  const product = await shop.seedProduct(name, { sku: "item", priceMinor: 2500, stock: 4 });
  const buyer = await shop.customer(name.toLowerCase());
  await shop.addToCart(buyer.token, product.variant.id, 2);

  // stopped, not crashed: a crash would leave its last publishes unmarked until their lease runs
  // out (30 s), longer than this test waits for quiet; crashes have tests of their own
  await stack.kill("inventory");
  const accepted = await shop.placeCheckout(buyer);
  expect(accepted.status).toBe(202);
  expect(accepted.body.status).toBe("processing");
  await change(product);
  await stack.start("inventory");

  const checkout = await shop.outcomeOf(buyer.token, accepted.body.id);
  return { product, buyer, checkout };
}

async function expectNothingReservedAndCustomerTold(
  product: SeededProduct,
  checkoutId: string,
  email: string,
) {
  expect(await reserveMovementsOf(db.inventory, checkoutId)).toBe(0);
  expect(await stockOf(db.inventory, product.variant.id)).toMatchObject({
    onHand: 4,
    reserved: 0,
    committed: 0,
  });
  await waitFor(() => mailsTo(smtp, email).length > 0, { what: "the failure email" });
  expect(await waitForQuiescence(stack, { timeoutMs: 15_000 })).toEqual({ deadLetters: 0 });
  expect(await checkInvariant(stack.databaseUrls)).toEqual([]);
  const mails = mailsTo(smtp, email);
  expect(mails).toHaveLength(1);
  expect(mails[0]?.subject).toMatch(FAILED_SUBJECT);
}

describe("the catalog changes between add-to-cart and reservation (issue 3, item 2)", () => {
  it("fails product_unavailable when the product was archived", async () => {
    const { product, buyer, checkout } = await checkoutAfterCatalogChange(
      "Archived",
      (p) => db.inventory`update products set archived_at = now() where id = ${p.productId}`,
    );
    expect(checkout.status).toBe("failed");
    expect(checkout.failure.reason).toBe("product_unavailable");
    expect(checkout.failure.lines).toEqual([
      expect.objectContaining({ variantId: product.variant.id, reason: "product_unavailable" }),
    ]);
    await expectNothingReservedAndCustomerTold(product, checkout.id, buyer.email);
    expect(mailsTo(smtp, buyer.email)[0]?.text).toMatch(/no longer sold/);
  });

  it("fails product_unavailable when the variant was deactivated", async () => {
    const { product, buyer, checkout } = await checkoutAfterCatalogChange(
      "Deactivated",
      (p) => db.inventory`update variants set active = false where id = ${p.variant.id}`,
    );
    expect(checkout.status).toBe("failed");
    expect(checkout.failure.reason).toBe("product_unavailable");
    expect(checkout.failure.lines).toEqual([
      expect.objectContaining({ variantId: product.variant.id, reason: "product_unavailable" }),
    ]);
    await expectNothingReservedAndCustomerTold(product, checkout.id, buyer.email);
  });

  it("fails price_changed when the price went up, naming the price seen and the price now", async () => {
    const { product, buyer, checkout } = await checkoutAfterCatalogChange(
      "Repriced",
      (p) => db.inventory`update variants set price_minor = 2900 where id = ${p.variant.id}`,
    );
    expect(checkout.status).toBe("failed");
    expect(checkout.failure.reason).toBe("price_changed");
    expect(checkout.failure.lines).toEqual([
      expect.objectContaining({
        variantId: product.variant.id,
        reason: "price_changed",
        expectedPriceMinor: 2500,
        currentPriceMinor: 2900,
      }),
    ]);
    await expectNothingReservedAndCustomerTold(product, checkout.id, buyer.email);
    expect(mailsTo(smtp, buyer.email)[0]?.text).toMatch(/price/);
  });
});
