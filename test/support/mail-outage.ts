import { freePort } from "@codflow/shared/testing";
import type postgres from "postgres";
import { expect } from "vitest";
import {
  connectDatabases,
  type Databases,
  openStorefront,
  type Storefront,
} from "./failure-kit.ts";
import { type Stack, startStack } from "./stack.ts";

/** A stack whose SMTP server is away: nothing listens on `smtpPort` until a test starts a sink. */
export interface MailOutage {
  smtpPort: number;
  stack: Stack;
  shop: Storefront;
  db: Databases;
  stop(): Promise<void>;
}

/** Starts the stack with SMTP down and retries 200 ms apart (doubling); `env` adds settings. */
export async function startWithSmtpDown(env: Record<string, string> = {}): Promise<MailOutage> {
  const smtpPort = await freePort();
  const stack = await startStack({
    env: { SMTP_URL: `smtp://127.0.0.1:${smtpPort}`, NOTIFY_RETRY_BASE_MS: "200", ...env },
  });
  const db = connectDatabases(stack);
  return {
    smtpPort,
    stack,
    shop: await openStorefront(stack),
    db,
    stop: async () => {
      await db.end();
      await stack.stop();
    },
  };
}

/** A confirmed COD order of one item for a new customer, read back through the API. */
export async function placeConfirmedOrder(shop: Storefront, name: string) {
  const product = await shop.seedProduct(name, { sku: "vase", priceMinor: 2200, stock: 3 });
  const buyer = await shop.customer(name.toLowerCase());
  await shop.addToCart(buyer.token, product.variant.id, 1);
  const accepted = await shop.placeCheckout(buyer, { waitSeconds: 10 });
  const checkout = await shop.outcomeOf(buyer.token, accepted.body.id);
  expect(checkout.status).toBe("confirmed");
  const order = await shop.api.get(`/v1/orders/${checkout.orderId}`, { token: buyer.token });
  expect(order.status).toBe(200);
  expect(order.body.status).toBe("confirmed");
  return { buyer, checkout, order: order.body };
}

export interface ConfirmationEmail {
  status: string;
  attempts: number;
  lastError: string | null;
}

/** The order-confirmed email notifier queued for an address (there must be one at most). */
export async function confirmationEmailTo(notifier: postgres.Sql, address: string) {
  const rows = await notifier<ConfirmationEmail[]>`
    select status, attempts, last_error as "lastError" from notifications
    where recipient = ${address} and template = 'order-confirmed'`;
  if (rows.length > 1) throw new Error(`${rows.length} confirmations queued for ${address}`);
  return rows[0];
}
