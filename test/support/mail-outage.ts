import { createServer, type Server, type Socket } from "node:net";
import type postgres from "postgres";
import { expect } from "vitest";
import { type MailSink, startMailSink } from "../../scripts/lib/mail-sink.ts";
import {
  connectDatabases,
  type Databases,
  openStorefront,
  type Storefront,
} from "./failure-kit.ts";
import { type Stack, startStack } from "./stack.ts";

/** A stack whose SMTP server is down: it refuses every session until `smtpBack`. */
export interface MailOutage {
  stack: Stack;
  shop: Storefront;
  db: Databases;
  /** A mail sink on the SMTP port the notifier uses, in place of the refusing server. */
  smtpBack(): Promise<MailSink>;
  stop(): Promise<void>;
}

/**
 * An SMTP server that is down for maintenance: it greets every session with 421 and closes it,
 * so each sending attempt fails at once. It holds its port meanwhile: a port merely left unbound
 * can be taken by another test file's process running in parallel (an HTTP server that never
 * greets, so each attempt waited out nodemailer's 10 s greeting timeout instead of failing).
 */
async function refuseSmtp(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    socket.end("421 4.3.2 Service not available, closing transmission channel\r\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  if (typeof address !== "object" || !address) throw new Error("the refusing SMTP has no port");
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Starts the stack with SMTP down and retries 200 ms apart (doubling); `env` adds settings. */
export async function startWithSmtpDown(env: Record<string, string> = {}): Promise<MailOutage> {
  const refusing = await refuseSmtp();
  let sink: MailSink | undefined;
  const stack = await startStack({
    env: { SMTP_URL: `smtp://127.0.0.1:${refusing.port}`, NOTIFY_RETRY_BASE_MS: "200", ...env },
  });
  const db = connectDatabases(stack);
  return {
    stack,
    shop: await openStorefront(stack),
    db,
    smtpBack: async () => {
      await refusing.close();
      sink = await startMailSink({ smtpPort: refusing.port, httpPort: 0 });
      return sink;
    },
    stop: async () => {
      await refusing.close();
      await sink?.close();
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
