import { randomUUID } from "node:crypto";
import { metricValue, signToken, waitFor } from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ApiClient,
  adminToken,
  apiClient,
  checkoutBodyFor,
  type VerifiedCustomer,
  verifiedCustomer,
} from "../../scripts/lib/api.ts";
import { type MailSink, startMailSink } from "../../scripts/lib/mail-sink.ts";
import { type Stack, startStack } from "../support/stack.ts";

let stack: Stack;
let smtp: MailSink;
let api: ApiClient;
let admin: string;
let courier: string;

beforeAll(async () => {
  smtp = await startMailSink({ smtpPort: 0, httpPort: 0 });
  stack = await startStack({ env: { SMTP_URL: `smtp://127.0.0.1:${smtp.smtpPort}` } });
  api = apiClient(stack.gatewayUrl);
  admin = await adminToken();
  courier = await signToken({ sub: "rider-7", role: "courier" });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await smtp?.close();
});

const PRICE = 2500;

/** A product with one variant of `stock` units at PRICE, sellable through checkout. */
async function seedVariant(stock: number) {
  const suffix = randomUUID().slice(0, 8);
  const vendor = await api.post("/v1/admin/catalog/vendors", {
    token: admin,
    body: { name: "Parcel Co", slug: `parcel-${suffix}` },
  });
  const product = await api.post("/v1/admin/catalog/products", {
    token: admin,
    body: {
      vendorId: vendor.body.id,
      slug: `lamp-${suffix}`,
      title: "Lamp",
      variants: [{ sku: `lamp-${suffix}`, priceMinor: PRICE, currency: "EUR", stock }],
    },
  });
  expect(product.status).toBe(201);
  return { slug: `lamp-${suffix}`, variantId: product.body.variants[0].id as string };
}

const availableQty = async ({ slug, variantId }: { slug: string; variantId: string }) => {
  const res = await api.get(`/v1/products/${slug}`);
  return res.body.variants.find((v: { id: string }) => v.id === variantId).availableQty as number;
};

/** A confirmed COD order of one unit for `buyer`: cart line, checkout, wait for the outcome. */
async function placeOrder(buyer: VerifiedCustomer, variantId: string) {
  await waitFor(
    async () => {
      const res = await api.post("/v1/cart/lines", {
        token: buyer.token,
        body: { variantId, qty: 1 },
      });
      if (res.status === 422) return false;
      expect(res.status).toBe(201);
      return true;
    },
    { what: "the variant in the cart" },
  );
  const checkout = await api.post("/v1/checkouts", {
    token: buyer.token,
    body: checkoutBodyFor(buyer.phone),
    headers: { "idempotency-key": randomUUID(), prefer: "wait=10" },
  });
  expect(checkout.body.status).toBe("confirmed");
  return checkout.body.orderId as string;
}

const move = (orderId: string, body: Record<string, unknown>, token = admin) =>
  api.post(`/v1/admin/orders/${orderId}/transitions`, { token, body });

const mailsTo = (email: string) => smtp.messages.filter((m) => m.to.includes(email));

/** Waits for the buyer's email whose subject starts with `subject`. */
const mailAbout = (email: string, subject: string) =>
  waitFor(() => mailsTo(email).find((m) => m.subject.startsWith(subject)), {
    what: `the "${subject}" email to ${email}`,
  });

const ordersMetric = async (name: string, labels: Record<string, string> = {}) => {
  const text = await (await fetch(`${stack.url("orders")}/metrics`)).text();
  return metricValue(text, name, labels) || 0;
};

describe("the delivery lifecycle, end to end through the gateway", () => {
  it("delivers after a failed attempt, flags the wrong cash and emails shipped, failed and delivered", async () => {
    const variant = await seedVariant(5);
    const buyer = await verifiedCustomer(api, stack.sms, "lifecycle-buyer");
    const orderId = await placeOrder(buyer, variant.variantId);
    const awb = `AWB-${randomUUID()}`;

    expect((await move(orderId, { to: "shipped", courier: "dhl", awb })).status).toBe(200);
    expect((await move(orderId, { to: "out_for_delivery" }, courier)).status).toBe(200);
    const failed = await move(
      orderId,
      { to: "delivery_failed", reason: "customer_unavailable" },
      courier,
    );
    expect(failed.status).toBe(200);
    expect((await move(orderId, { to: "out_for_delivery" }, courier)).status).toBe(200);
    const delivered = await move(
      orderId,
      { to: "delivered", cashCollectedMinor: PRICE - 500 },
      courier,
    );

    expect(delivered.status).toBe(200);
    expect(delivered.body.delivery).toMatchObject({
      courier: "dhl",
      awb,
      attempts: 1,
      lastFailureReason: "customer_unavailable",
      cashCollectedMinor: PRICE - 500,
      cashMismatch: true,
      deliveredBy: "rider-7",
    });
    const seen = await api.get(`/v1/orders/${orderId}`, { token: buyer.token });
    expect(seen.body).toMatchObject({
      status: "delivered",
      delivery: { courier: "dhl", awb, attempts: 1 },
    });
    expect(await ordersMetric("codflow_cash_mismatches_total")).toBe(1);
    expect(
      await ordersMetric("codflow_delivery_failures_total", { reason: "customer_unavailable" }),
    ).toBe(1);

    const number = seen.body.number as string;
    expect((await mailAbout(buyer.email, `Your order ${number} is on its way`)).text).toContain(
      awb,
    );
    expect(
      (await mailAbout(buyer.email, `We could not deliver your order ${number}`)).text,
    ).toContain("attempt 1");
    expect((await mailAbout(buyer.email, `Your order ${number} was delivered`)).text).toContain(
      "EUR 20.00",
    );
  });

  it("lets the customer cancel a confirmed order: its stock is on sale again and a cancel email goes out", async () => {
    const variant = await seedVariant(2);
    const buyer = await verifiedCustomer(api, stack.sms, "cancelling-buyer");
    const orderId = await placeOrder(buyer, variant.variantId);
    expect(await availableQty(variant)).toBe(1);

    const cancelled = await api.post(`/v1/orders/${orderId}/cancel`, { token: buyer.token });

    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe("cancelled");
    await waitFor(async () => (await availableQty(variant)) === 2, {
      what: "the stock given back",
    });
    const mail = await mailAbout(buyer.email, `Your order ${cancelled.body.number} is cancelled`);
    expect(mail.text).toContain("as you asked");
    const again = await api.post(`/v1/orders/${orderId}/cancel`, { token: buyer.token });
    expect(again.status).toBe(409);
    expect(again.body.type).toMatch(/\/illegal-transition$/);
  });

  it("after three failed attempts allows only the return, restocks it and keeps a complete audit trail", async () => {
    const variant = await seedVariant(3);
    const buyer = await verifiedCustomer(api, stack.sms, "unreachable-buyer");
    const orderId = await placeOrder(buyer, variant.variantId);
    expect(await availableQty(variant)).toBe(2);
    await move(orderId, { to: "shipped", courier: "ups", awb: `AWB-${randomUUID()}` });
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect((await move(orderId, { to: "out_for_delivery" }, courier)).status).toBe(200);
      const failed = await move(
        orderId,
        { to: "delivery_failed", reason: "address_issue" },
        courier,
      );
      expect(failed.status).toBe(200);
    }

    const fourth = await move(orderId, { to: "out_for_delivery" }, courier);
    expect(fourth.status).toBe(409);
    expect(fourth.body.type).toMatch(/\/illegal-transition$/);
    expect((await move(orderId, { to: "rto_initiated" })).status).toBe(200);
    expect((await move(orderId, { to: "returned" })).status).toBe(200);

    await waitFor(async () => (await availableQty(variant)) === 3, {
      what: "the return restocked",
    });
    const audit = await api.get(`/v1/admin/orders/${orderId}/audit`, { token: admin });
    expect(audit.body.items.map((r: { to: string }) => r.to)).toEqual([
      "confirmed",
      "shipped",
      "out_for_delivery",
      "delivery_failed",
      "out_for_delivery",
      "delivery_failed",
      "out_for_delivery",
      "delivery_failed",
      "rto_initiated",
      "returned",
    ]);
    for (const row of audit.body.items) {
      expect(row).toMatchObject({
        actor: expect.any(String),
        role: expect.stringMatching(/^(system|admin|courier)$/),
        at: expect.stringMatching(/Z$/),
      });
    }
    expect(audit.body.items.at(-3)).toMatchObject({
      actor: "rider-7",
      role: "courier",
      from: "out_for_delivery",
      to: "delivery_failed",
      data: { reason: "address_issue", attempt: 3 },
    });
    expect(audit.body.items.at(-1)).toMatchObject({ actor: "admin-1", role: "admin" });
  });
});
