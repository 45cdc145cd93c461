import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { signToken, waitFor } from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ApiClient,
  adminToken,
  apiClient,
  customer,
  newPhone,
} from "../../scripts/lib/api.ts";
import { type MailSink, startMailSink } from "../../scripts/lib/mail-sink.ts";
import { type Stack, startStack } from "../support/stack.ts";

/**
 * Given every process of the stack logging at `debug`, when one customer goes through the whole
 * COD life (phone OTP through an SMS gateway that fails once, a wrong try, a refused checkout, an order shipped, a failed delivery
 * and a delivery, a second order cancelled, emails for each), then no log line of any process
 * holds their phone, email, name, address or one-time code.
 */

let stack: Stack;
let smtp: MailSink;
let api: ApiClient;

const unique = randomUUID().slice(0, 6);
const address = {
  name: `Zelda Quimby ${unique}`,
  line1: `742 Evergreen Terrace ${unique}`,
  line2: `Flat Qx${unique}`,
  city: `Quxburg${unique}`,
  region: `Region${unique}`,
  postalCode: `QX${unique}`,
  country: "DE",
};

beforeAll(async () => {
  smtp = await startMailSink({ smtpPort: 0, httpPort: 0 });
  stack = await startStack({
    env: { SMTP_URL: `smtp://127.0.0.1:${smtp.smtpPort}`, LOG_LEVEL: "debug" },
  });
  api = apiClient(stack.gatewayUrl);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await smtp?.close();
});

async function seedVariant(admin: string) {
  const slug = `pii-${randomUUID().slice(0, 8)}`;
  const vendor = await api.post("/v1/admin/catalog/vendors", {
    token: admin,
    body: { name: "Quiet Vendor", slug },
  });
  const product = await api.post("/v1/admin/catalog/products", {
    token: admin,
    body: {
      vendorId: vendor.body.id,
      slug,
      title: "Quiet lamp",
      variants: [{ sku: slug, priceMinor: 1500, currency: "EUR", stock: 10 }],
    },
  });
  expect(product.status).toBe(201);
  return product.body.variants[0].id as string;
}

async function orderOne(token: string, variantId: string, phone: string) {
  await waitFor(
    async () =>
      (await api.post("/v1/cart/lines", { token, body: { variantId, qty: 1 } })).status === 201,
    { what: "the variant in the cart" },
  );
  const checkout = await api.post("/v1/checkouts", {
    token,
    body: { paymentMethod: "cod", phone, shippingAddress: address },
    headers: { "idempotency-key": randomUUID(), prefer: "wait=10" },
  });
  expect(checkout.body.status).toBe("confirmed");
  return checkout.body.orderId as string;
}

const PROCESSES = ["gateway", "checkout", "inventory", "orders", "notifier"] as const;

/** Stops every process and reads its whole log, once each has written its last line. */
async function logsOfEveryProcess() {
  for (const name of PROCESSES) await stack.kill(name);
  const read = () =>
    readdirSync(stack.logDir).map((file) => readFileSync(join(stack.logDir, file), "utf8"));
  return waitFor(
    () => {
      const files = read();
      const complete =
        files.length === PROCESSES.length && files.every((f) => f.includes('"msg":"stopped"'));
      return complete && files.join("\n");
    },
    { what: "every process's log complete" },
  );
}

describe("personal data in logs", () => {
  it("never writes a phone, email, name, address or OTP of a customer's whole COD life", async () => {
    const admin = await adminToken();
    const courier = await signToken({ sub: "rider-pii", role: "courier" });
    const buyer = await customer("pii");
    const phone = newPhone();
    const variantId = await seedVariant(admin);
    const codes: string[] = [];

    stack.sms.failNext(1, 503);
    const requested = await api.post("/v1/me/phone/verification", {
      token: buyer.token,
      body: { phone },
    });
    expect(requested.status).toBe(202);
    codes.push(await stack.sms.waitForCode(phone));
    const wrong = codes[0] === "000000" ? "000001" : "000000";
    expect(
      (
        await api.post("/v1/me/phone/verification/confirm", {
          token: buyer.token,
          body: { code: wrong },
        })
      ).status,
    ).toBe(422);
    const refused = await api.post("/v1/checkouts", {
      token: buyer.token,
      body: { paymentMethod: "cod", phone, shippingAddress: address },
      headers: { "idempotency-key": randomUUID() },
    });
    expect([403, 409]).toContain(refused.status);
    const confirmed = await api.post("/v1/me/phone/verification/confirm", {
      token: buyer.token,
      body: { code: codes[0] },
    });
    expect(confirmed.status).toBe(200);
    const invalid = await api.post("/v1/checkouts", {
      token: buyer.token,
      body: { paymentMethod: "cod", phone: `0${phone}`, shippingAddress: { ...address, city: 7 } },
      headers: { "idempotency-key": randomUUID() },
    });
    expect(invalid.status).toBe(400);

    const delivered = await orderOne(buyer.token, variantId, phone);
    const moves = [
      { to: "shipped", courier: "QuickShip", awb: `AWB-${randomUUID().slice(0, 8)}` },
      { to: "out_for_delivery" },
      { to: "delivery_failed", reason: "customer_unavailable" },
      { to: "out_for_delivery" },
      { to: "delivered", cashCollectedMinor: 1400 },
    ];
    for (const body of moves) {
      const token = body.to === "shipped" ? admin : courier;
      const res = await api.post(`/v1/admin/orders/${delivered}/transitions`, { token, body });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    const cancelled = await orderOne(buyer.token, variantId, phone);
    expect((await api.post(`/v1/orders/${cancelled}/cancel`, { token: buyer.token })).status).toBe(
      200,
    );
    await waitFor(() => smtp.messages.filter((m) => m.to.includes(buyer.email)).length >= 6, {
      what: "the emails of both orders (2 confirmed, shipped, delivery failed, delivered, cancelled)",
      timeoutMs: 20_000,
    });

    const logs = await logsOfEveryProcess();
    expect(logs).toContain(delivered);
    const digitsOnly = phone.slice(1);
    const leaks = [
      buyer.email,
      digitsOnly,
      address.name,
      address.line1,
      address.line2,
      address.city,
      address.region,
      address.postalCode,
    ].filter((secret) => logs.includes(secret));
    expect(leaks).toEqual([]);
    for (const code of codes) {
      expect(logs).not.toMatch(new RegExp(`(?<![0-9a-f])${code}(?![0-9a-f])`));
    }
  });
});
