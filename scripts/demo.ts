/**
 * `pnpm demo`: one Cash-on-Delivery order through a running stack (`pnpm start`), step by step:
 * catalog (admin) → phone verified by SMS code → cart → checkout → confirmed → order →
 * confirmation email.
 * GATEWAY_URL (default http://127.0.0.1:8080), DEV_MAIL_HTTP_URL (default http://127.0.0.1:1080),
 * DEV_SMS_HTTP_URL (default http://127.0.0.1:1090), AUTH_JWT_SECRET (default: the dev-only
 * secret the services accept outside production).
 */
import { randomUUID } from "node:crypto";
import { signToken } from "@codflow/shared/testing";
import { newPhone } from "./lib/api.ts";
import { bold, green, red, scriptLogger } from "./lib/output.ts";
import { smsSinkClient } from "./lib/sms-sink.ts";
import { waitUntil } from "./lib/wait.ts";

const GATEWAY_URL = (process.env.GATEWAY_URL || "http://127.0.0.1:8080").replace(/\/$/, "");
const MAIL_URL = (process.env.DEV_MAIL_HTTP_URL || "http://127.0.0.1:1080").replace(/\/$/, "");
const SMS_URL = (process.env.DEV_SMS_HTTP_URL || "http://127.0.0.1:1090").replace(/\/$/, "");
const SECRET = process.env.AUTH_JWT_SECRET || undefined;
const TERMINAL = new Set(["confirmed", "failed"]);

const log = scriptLogger("demo");
const demoStarted = Date.now();

class DemoFailed extends Error {
  override name = "DemoFailed";
}

interface ApiAnswer<T> {
  status: number;
  headers: Headers;
  body: T;
}

async function api<T = Record<string, unknown>>(
  method: string,
  path: string,
  {
    token,
    body,
    headers = {},
  }: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiAnswer<T>> {
  const res = await fetch(GATEWAY_URL + path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  }).catch((error: Error) => {
    throw new DemoFailed(
      `${method} ${GATEWAY_URL}${path}: ${error.message} — is the stack running (pnpm start)?`,
    );
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text, for the error message
  }
  return { status: res.status, headers: res.headers, body: parsed as T };
}

function expectStatus<T>(answer: ApiAnswer<T>, expected: number[], what: string): T {
  if (!expected.includes(answer.status)) {
    throw new DemoFailed(
      `${what}: expected HTTP ${expected.join(" or ")}, got ${answer.status}: ${JSON.stringify(answer.body)}`,
    );
  }
  return answer.body;
}

async function step<T>(title: string, run: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await run();
  log.info(`${green("✔")} ${title} ${bold(`(${Date.now() - started} ms)`)}`);
  return result;
}

function money(minor: number, currency: string): string {
  const format = new Intl.NumberFormat("en", { style: "currency", currency });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(minor / 10 ** digits);
}

interface Checkout {
  id: string;
  status: string;
  orderId?: string;
  failure?: { reason: string; detail?: string };
}

/** Prints each status from the SSE stream; undefined when the stream could not be followed. */
async function followEvents(checkoutId: string, token: string): Promise<Checkout | undefined> {
  const res = await fetch(`${GATEWAY_URL}/v1/checkouts/${checkoutId}/events`, {
    headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" },
    signal: AbortSignal.timeout(30_000),
  });
  if (!res.ok || !res.headers.get("content-type")?.startsWith("text/event-stream") || !res.body) {
    log.warn(`the event stream answered ${res.status}; polling instead`);
    return undefined;
  }
  let buffer = "";
  let last: Checkout | undefined;
  for await (const chunk of res.body.pipeThrough(new TextDecoderStream())) {
    buffer += chunk.replace(/\r\n/g, "\n");
    for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart())
        .join("\n");
      if (!data) continue;
      const event = JSON.parse(data) as Checkout;
      log.info(`  checkout status (SSE): ${bold(event.status)}  +${Date.now() - demoStarted} ms`);
      last = { ...last, ...event };
      if (TERMINAL.has(event.status)) return last;
    }
  }
  return last && TERMINAL.has(last.status) ? last : undefined;
}

async function pollUntilTerminal(checkoutId: string, token: string): Promise<Checkout> {
  let checkout: Checkout | undefined;
  let lastStatus = "";
  await waitUntil(
    "the checkout to reach confirmed or failed",
    async () => {
      checkout = expectStatus(
        await api<Checkout>("GET", `/v1/checkouts/${checkoutId}`, { token }),
        [200],
        "GET checkout",
      );
      if (checkout.status !== lastStatus) {
        lastStatus = checkout.status;
        log.info(
          `  checkout status (poll): ${bold(checkout.status)}  +${Date.now() - demoStarted} ms`,
        );
      }
      return TERMINAL.has(checkout.status);
    },
    30_000,
    250,
  );
  return checkout as Checkout;
}

async function runDemo() {
  const runId = Date.now().toString(36);
  const customer = { sub: randomUUID(), email: `demo-${runId}@example.com` };
  const phone = newPhone();
  const admin = await signToken(
    { sub: randomUUID(), role: "admin", email: "ops@codflow.example" },
    SECRET,
  );
  const shopper = await signToken({ ...customer, role: "customer" }, SECRET);
  log.info(`gateway ${GATEWAY_URL}, customer ${customer.email}`);

  const vendor = await step("admin creates a vendor", async () =>
    expectStatus(
      await api<{ id: string }>("POST", "/v1/admin/catalog/vendors", {
        token: admin,
        body: { name: `Demo Vendor ${runId}`, slug: `demo-vendor-${runId}` },
      }),
      [201],
      "create vendor",
    ),
  );

  const product = await step("admin creates a product with one variant (stock 10)", async () =>
    expectStatus(
      await api<{ id: string; variants: Array<{ id: string; sku: string }> }>(
        "POST",
        "/v1/admin/catalog/products",
        {
          token: admin,
          body: {
            vendorId: vendor.id,
            slug: `demo-mug-${runId}`,
            title: "Demo mug",
            variants: [
              { sku: `MUG-${runId}`, title: "Blue", priceMinor: 2499, currency: "USD", stock: 10 },
            ],
          },
        },
      ),
      [201],
      "create product",
    ),
  );
  const variantId = product.variants[0]?.id;
  if (!variantId) throw new DemoFailed(`the product has no variant id: ${JSON.stringify(product)}`);

  await step("customer verifies a phone with the code texted to the dev SMS sink", async () => {
    expectStatus(
      await api("POST", "/v1/me/phone/verification", { token: shopper, body: { phone } }),
      [202],
      "request a verification code",
    );
    const code = await smsSinkClient(SMS_URL)
      .waitForCode(phone)
      .catch((error: Error) => {
        throw new DemoFailed(`dev SMS sink at ${SMS_URL}: ${error.message}`);
      });
    expectStatus(
      await api("POST", "/v1/me/phone/verification/confirm", { token: shopper, body: { code } }),
      [200],
      "confirm the verification code",
    );
  });

  await step("customer adds 2 to the cart (once the catalog reached checkout)", async () => {
    let last: ApiAnswer<unknown> | undefined;
    await waitUntil(
      "the cart to accept the new variant",
      async () => {
        last = await api("POST", "/v1/cart/lines", { token: shopper, body: { variantId, qty: 2 } });
        if (last.status === 201) return true;
        if (last.status === 422) return false;
        return expectStatus(last, [201], "add to cart") !== undefined;
      },
      30_000,
      250,
    ).catch((error: Error) => {
      throw new DemoFailed(
        `${error.message}; last answer ${last?.status}: ${JSON.stringify(last?.body)}`,
      );
    });
  });

  const placed = await step("customer places a COD checkout (Prefer: wait=10)", async () => {
    const answer = await api<Checkout & { statusUrl?: string }>("POST", "/v1/checkouts", {
      token: shopper,
      headers: { "idempotency-key": randomUUID(), prefer: "wait=10" },
      body: {
        paymentMethod: "cod",
        phone,
        shippingAddress: {
          name: "Demo Customer",
          line1: "1 Market Street",
          city: "Springfield",
          postalCode: "12345",
          country: "US",
        },
      },
    });
    const checkout = expectStatus(answer, [200, 202], "place checkout");
    log.info(`  HTTP ${answer.status}, checkout ${checkout.id}: ${bold(checkout.status)}`);
    return checkout;
  });

  const final = await step("checkout reaches a terminal state", async () => {
    const viaEvents = await followEvents(placed.id, shopper).catch((error: Error) => {
      log.warn(`the event stream failed (${error.message}); polling instead`);
      return undefined;
    });
    return viaEvents ?? pollUntilTerminal(placed.id, shopper);
  });
  if (final.status !== "confirmed") {
    throw new DemoFailed(
      `checkout ${placed.id} ${final.status}: ${final.failure?.reason ?? "no reason"} ${final.failure?.detail ?? ""}`,
    );
  }
  const orderId =
    final.orderId ??
    expectStatus(
      await api<Checkout>("GET", `/v1/checkouts/${placed.id}`, { token: shopper }),
      [200],
      "GET checkout",
    ).orderId;
  if (!orderId) throw new DemoFailed(`checkout ${placed.id} is confirmed but names no orderId`);

  const order = await step("customer reads the order", async () =>
    expectStatus(
      await api<{
        number: string;
        status: string;
        totalMinor: number;
        currency: string;
        items: Array<{ sku: string; title: string; qty: number; unitPriceMinor: number }>;
      }>("GET", `/v1/orders/${orderId}`, { token: shopper }),
      [200],
      "GET order",
    ),
  );
  log.info(`  order ${bold(order.number)} (${order.status})`);
  for (const item of order.items) {
    log.info(
      `    ${item.qty} × ${item.title} [${item.sku}] @ ${money(item.unitPriceMinor, order.currency)}`,
    );
  }
  log.info(`  to pay in cash on delivery: ${bold(money(order.totalMinor, order.currency))}`);

  const mail = await step(`confirmation email reaches ${customer.email}`, async () => {
    let found: { subject: string; text: string } | undefined;
    await waitUntil(
      `a message to ${customer.email} in the dev mail sink (${MAIL_URL})`,
      async () => {
        const res = await fetch(
          `${MAIL_URL}/messages?to=${encodeURIComponent(customer.email)}`,
        ).catch((error: Error) => {
          throw new DemoFailed(`dev mail sink at ${MAIL_URL}: ${error.message}`);
        });
        const messages = (await res.json()) as Array<{ subject: string; text: string }>;
        found = messages[0];
        return found !== undefined;
      },
      30_000,
      250,
    );
    return found as { subject: string; text: string };
  });
  const mentions = `${mail.subject}\n${mail.text}`.includes(order.number);
  log.info(`  subject: ${bold(mail.subject)}${mentions ? " (names the order number)" : ""}`);
  log.info(green(bold(`demo passed in ${Date.now() - demoStarted} ms`)));
}

try {
  await runDemo();
} catch (error) {
  log.error(`${red("✖")} demo failed: ${(error as Error).message}`);
  process.exit(1);
}
