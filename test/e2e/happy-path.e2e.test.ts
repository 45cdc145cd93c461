import { randomUUID } from "node:crypto";
import { waitFor } from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ApiClient,
  adminToken,
  apiClient,
  checkoutBodyFor,
  customer,
  verifiedCustomer,
} from "../../scripts/lib/api.ts";
import { type MailSink, startMailSink } from "../../scripts/lib/mail-sink.ts";
import { type Stack, startStack } from "../support/stack.ts";

let stack: Stack;
let smtp: MailSink;
let api: ApiClient;
let admin: string;

beforeAll(async () => {
  smtp = await startMailSink({ smtpPort: 0, httpPort: 0 });
  stack = await startStack({ env: { SMTP_URL: `smtp://127.0.0.1:${smtp.smtpPort}` } });
  api = apiClient(stack.gatewayUrl);
  admin = await adminToken();
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await smtp?.close();
});

const suffix = () => randomUUID().slice(0, 8);

async function seedProduct(
  vendorName: string,
  variants: { sku: string; priceMinor: number; stock: number }[],
) {
  const vendor = await api.post("/v1/admin/catalog/vendors", {
    token: admin,
    body: { name: vendorName, slug: `${vendorName.toLowerCase()}-${suffix()}` },
  });
  expect(vendor.status).toBe(201);
  const slug = `product-${suffix()}`;
  const product = await api.post("/v1/admin/catalog/products", {
    token: admin,
    body: {
      vendorId: vendor.body.id,
      slug,
      title: `${vendorName} product`,
      variants: variants.map((v) => ({
        ...v,
        sku: `${v.sku}-${suffix()}`,
        title: v.sku,
        currency: "EUR",
      })),
    },
  });
  expect(product.status).toBe(201);
  return { vendorId: vendor.body.id as string, slug, product: product.body };
}

/** Adds to the cart once the checkout service's catalog replica knows the variant. */
async function addToCart(token: string, variantId: string, qty: number) {
  await waitFor(
    async () => {
      const res = await api.post("/v1/cart/lines", { token, body: { variantId, qty } });
      if (res.status === 422) return false;
      expect(res.status).toBe(201);
      return true;
    },
    { what: `variant ${variantId} in the cart` },
  );
}

const availableQty = async (slug: string, variantId: string) => {
  const res = await api.get(`/v1/products/${slug}`);
  return res.body.variants.find((v: { id: string }) => v.id === variantId).availableQty as number;
};

describe("the COD happy path, end to end through the gateway", () => {
  it("turns a cart into exactly one confirmed order, one email, an empty cart and committed stock", async () => {
    const shoes = await seedProduct("Shoemaker", [{ sku: "shoe-42", priceMinor: 4999, stock: 5 }]);
    const socks = await seedProduct("Knitter", [{ sku: "sock-m", priceMinor: 799, stock: 10 }]);
    const shoe = shoes.product.variants[0];
    const sock = socks.product.variants[0];
    const buyer = await verifiedCustomer(api, stack.sms, "buyer");

    await addToCart(buyer.token, shoe.id, 1);
    await addToCart(buyer.token, sock.id, 3);
    const cart = await api.get("/v1/cart", { token: buyer.token });
    expect(cart.body.totalMinor).toBe(4999 + 3 * 799);

    const key = randomUUID();
    const accepted = await api.post("/v1/checkouts", {
      token: buyer.token,
      body: checkoutBodyFor(buyer.phone),
      headers: { "idempotency-key": key, prefer: "wait=10" },
    });
    expect(accepted.status).toBe(200);
    expect(accepted.body.status).toBe("confirmed");
    const checkoutId = accepted.body.id as string;
    const orderId = accepted.body.orderId as string;

    const order = await api.get(`/v1/orders/${orderId}`, { token: buyer.token });
    expect(order.status).toBe(200);
    expect(order.body).toMatchObject({
      checkoutId,
      status: "confirmed",
      paymentMethod: "cod",
      totalMinor: 4999 + 3 * 799,
    });
    expect(order.body.number).toMatch(/\S/);
    expect(order.body.items).toHaveLength(2);
    expect(order.body.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          variantId: shoe.id,
          vendorId: shoes.vendorId,
          productSlug: shoes.slug,
          qty: 1,
          unitPriceMinor: 4999,
        }),
        expect.objectContaining({
          variantId: sock.id,
          vendorId: socks.vendorId,
          productSlug: socks.slug,
          qty: 3,
          unitPriceMinor: 799,
        }),
      ]),
    );

    const emptied = await api.get("/v1/cart", { token: buyer.token });
    expect(emptied.body.lines).toEqual([]);
    expect(await availableQty(shoes.slug, shoe.id)).toBe(4);
    expect(await availableQty(socks.slug, sock.id)).toBe(7);

    const mails = await waitFor(
      () => {
        const m = smtp.messages.filter((msg) => msg.to.includes(buyer.email));
        return m.length > 0 && m;
      },
      { what: "the confirmation email" },
    );
    expect(mails[0]?.text).toContain(order.body.number);
    expect(mails[0]?.text).toMatch(/cash/i);

    const replay = await api.post("/v1/checkouts", {
      token: buyer.token,
      body: checkoutBodyFor(buyer.phone),
      headers: { "idempotency-key": key },
    });
    expect([200, 202]).toContain(replay.status);
    expect(replay.body.id).toBe(checkoutId);
    const orders = await api.get("/v1/orders", { token: buyer.token });
    expect(orders.body.items).toHaveLength(1);

    const other = await customer("other");
    expect((await api.get(`/v1/orders/${orderId}`, { token: other.token })).status).toBe(404);
    expect((await api.get(`/v1/checkouts/${checkoutId}`, { token: other.token })).status).toBe(404);

    // No second email arrives for the same order, even after the flow has settled.
    const settled = await api.get(`/v1/checkouts/${checkoutId}`, { token: buyer.token });
    expect(settled.body.status).toBe("confirmed");
    expect(smtp.messages.filter((msg) => msg.to.includes(buyer.email))).toHaveLength(1);
  });

  it("never oversells: 6 customers race for 3 units, exactly 3 orders are confirmed", async () => {
    const { slug, product } = await seedProduct("Scarce", [
      { sku: "last-units", priceMinor: 1500, stock: 3 },
    ]);
    const variant = product.variants[0];
    const buyers = await Promise.all(
      Array.from({ length: 6 }, () => verifiedCustomer(api, stack.sms, "racer")),
    );
    for (const b of buyers) await addToCart(b.token, variant.id, 1);

    const results = await Promise.all(
      buyers.map((b) =>
        api.post("/v1/checkouts", {
          token: b.token,
          body: checkoutBodyFor(b.phone),
          headers: { "idempotency-key": randomUUID(), prefer: "wait=10" },
        }),
      ),
    );
    const statuses = results.map((r) => r.body.status).sort();
    expect(statuses).toEqual(["confirmed", "confirmed", "confirmed", "failed", "failed", "failed"]);
    for (const r of results.filter((x) => x.body.status === "failed")) {
      expect(r.body.failure.reason).toBe("out_of_stock");
    }
    expect(await availableQty(slug, variant.id)).toBe(0);
  });
});
