/**
 * `pnpm latency [--orders N]`: N sequential COD orders through a running stack (`pnpm start`),
 * reporting accepted→confirmed latency two ways: as the client sees it (POST /v1/checkouts with
 * `Prefer: wait=10` until the 200) and as the checkout records it (createdAt → updatedAt).
 * Each order is a new customer's first (COD allows only a few active orders per customer), whose
 * phone is verified before the timing starts, reading the codes from the dev SMS sink: the stack
 * must let N verifications come from one address, as `pnpm start` does (it lifts the per-IP
 * limits in dev; a stack started otherwise needs RATE_LIMIT_OTP_PER_IP / _CHECKOUT_PER_IP raised).
 * GATEWAY_URL (default http://127.0.0.1:8080), DEV_SMS_HTTP_URL (default http://127.0.0.1:1090),
 * AUTH_JWT_SECRET (default: the dev-only secret).
 */
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { waitFor } from "@codflow/shared/testing";
import { adminToken, apiClient, checkoutBodyFor, verifiedCustomer } from "./lib/api.ts";
import { smsSinkClient } from "./lib/sms-sink.ts";

const { values } = parseArgs({ options: { orders: { type: "string", default: "100" } } });
const orders = Number(values.orders);
if (!Number.isInteger(orders) || orders < 1) {
  console.error(`--orders must be a positive whole number, got "${values.orders}"`);
  process.exit(2);
}

const api = apiClient((process.env.GATEWAY_URL || "http://127.0.0.1:8080").replace(/\/$/, ""));
const sms = smsSinkClient(
  (process.env.DEV_SMS_HTTP_URL || "http://127.0.0.1:1090").replace(/\/$/, ""),
);
const admin = await adminToken();
const tag = randomUUID().slice(0, 8);
const vendor = await api.post("/v1/admin/catalog/vendors", {
  token: admin,
  body: { name: "Latency", slug: `latency-${tag}` },
});
const product = await api.post("/v1/admin/catalog/products", {
  token: admin,
  body: {
    vendorId: vendor.body.id,
    slug: `latency-${tag}`,
    title: "Latency probe",
    variants: [
      { sku: `latency-${tag}`, title: "one", priceMinor: 100, currency: "EUR", stock: orders * 2 },
    ],
  },
});
if (product.status !== 201)
  throw new Error(`seeding failed: ${product.status} ${JSON.stringify(product.body)}`);
const variantId = product.body.variants[0].id as string;
const buyers: Awaited<ReturnType<typeof verifiedCustomer>>[] = [];
for (let i = 0; i < orders; i += 10) {
  const count = Math.min(10, orders - i);
  buyers.push(
    ...(await Promise.all(
      Array.from({ length: count }, () => verifiedCustomer(api, sms, "latency")),
    )),
  );
}
const addLine = (token: string) =>
  api.post("/v1/cart/lines", { token, body: { variantId, qty: 1 } });
await waitFor(async () => (await addLine(buyers[0]?.token ?? "")).status === 201, {
  timeoutMs: 30_000,
  intervalMs: 100,
  what: "the variant in the checkout replica",
});

const client: number[] = [];
const recorded: number[] = [];
for (const [i, buyer] of buyers.entries()) {
  if (i > 0) await addLine(buyer.token);
  const started = performance.now();
  const res = await api.post("/v1/checkouts", {
    token: buyer.token,
    body: checkoutBodyFor(buyer.phone),
    headers: { "idempotency-key": randomUUID(), prefer: "wait=10" },
  });
  client.push(performance.now() - started);
  if (res.status !== 200 || res.body.status !== "confirmed") {
    throw new Error(
      `order ${i + 1}: expected confirmed, got ${res.status} ${JSON.stringify(res.body)}`,
    );
  }
  recorded.push(Date.parse(res.body.updatedAt) - Date.parse(res.body.createdAt));
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
};
const row = (name: string, xs: number[]) =>
  `${name.padEnd(34)} p50 ${pct(xs, 50).toFixed(1)} ms  p95 ${pct(xs, 95).toFixed(1)} ms  p99 ${pct(xs, 99).toFixed(1)} ms  max ${Math.max(...xs).toFixed(1)} ms`;
console.log(`${orders} sequential COD orders, accepted → confirmed:`);
console.log(row("client (POST with Prefer: wait)", client));
console.log(row("recorded (createdAt → updatedAt)", recorded));
