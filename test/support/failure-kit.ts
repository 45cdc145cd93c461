import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { connectPostgres } from "@codflow/shared";
import { waitFor } from "@codflow/shared/testing";
import type postgres from "postgres";
import type { DeadLetter } from "../../scripts/cli/dlq.ts";
import {
  adminToken,
  apiClient,
  checkoutBodyFor,
  type VerifiedCustomer,
  verifiedCustomer,
} from "../../scripts/lib/api.ts";
import { type MailSink, startMailSink } from "../../scripts/lib/mail-sink.ts";
import { type Stack, startStack } from "./stack.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const suffix = () => randomUUID().slice(0, 8);

export interface SeededProduct {
  vendorId: string;
  productId: string;
  slug: string;
  variant: { id: string; sku: string; priceMinor: number };
}

/**
 * The storefront and the admin console of a running stack, as the failure tests drive them:
 * everything goes through the gateway, the way a real client would.
 */
export async function openStorefront(stack: Stack) {
  const api = apiClient(stack.gatewayUrl);
  const admin = await adminToken();

  /** A vendor of its own with a product of one variant, priced in EUR. */
  const seedProduct = async (
    name: string,
    { sku, priceMinor, stock }: { sku: string; priceMinor: number; stock: number },
  ): Promise<SeededProduct> => {
    const vendor = await api.post("/v1/admin/catalog/vendors", {
      token: admin,
      body: { name, slug: `${name.toLowerCase()}-${suffix()}` },
    });
    if (vendor.status !== 201) throw new Error(`vendor not created: ${vendor.status}`);
    const slug = `${name.toLowerCase()}-product-${suffix()}`;
    const product = await api.post("/v1/admin/catalog/products", {
      token: admin,
      body: {
        vendorId: vendor.body.id,
        slug,
        title: `${name} product`,
        variants: [{ sku: `${sku}-${suffix()}`, title: sku, priceMinor, currency: "EUR", stock }],
      },
    });
    if (product.status !== 201) throw new Error(`product not created: ${product.status}`);
    const [variant] = product.body.variants;
    return {
      vendorId: vendor.body.id,
      productId: product.body.id,
      slug,
      variant: { id: variant.id, sku: variant.sku, priceMinor: variant.priceMinor },
    };
  };

  /** Adds a line once checkout's catalog replica knows the variant (422 until then). */
  const addToCart = (token: string, variantId: string, qty: number) =>
    waitFor(
      async () => {
        const res = await api.post("/v1/cart/lines", { token, body: { variantId, qty } });
        if (res.status === 422) return false;
        if (res.status !== 201) throw new Error(`add to cart answered ${res.status}`);
        return true;
      },
      { what: `variant ${variantId} in the cart` },
    );

  const cartLines = async (token: string) => {
    const res = await api.get("/v1/cart", { token });
    return res.body.lines as { id: string; variantId: string; qty: number }[];
  };

  /** A new customer with a verified phone, as a COD checkout requires. */
  const customer = (label: string) => verifiedCustomer(api, stack.sms, label);

  /** POST /v1/checkouts of the buyer's whole cart, to their phone, under a fresh Idempotency-Key. */
  const placeCheckout = (
    { token, phone }: Pick<VerifiedCustomer, "token" | "phone">,
    { waitSeconds }: { waitSeconds?: number } = {},
  ) =>
    api.post("/v1/checkouts", {
      token,
      body: checkoutBodyFor(phone),
      headers: {
        "idempotency-key": randomUUID(),
        ...(waitSeconds ? { prefer: `wait=${waitSeconds}` } : {}),
      },
    });

  /** The checkout once it left `processing`. */
  const outcomeOf = (token: string, checkoutId: string, timeoutMs = 20_000) =>
    waitFor(
      async () => {
        const res = await api.get(`/v1/checkouts/${checkoutId}`, { token });
        return res.status === 200 && res.body.status !== "processing" && res.body;
      },
      { timeoutMs, intervalMs: 100, what: `checkout ${checkoutId} to leave processing` },
    );

  const availableQty = async (slug: string, variantId: string) => {
    const res = await api.get(`/v1/products/${slug}`);
    const variant = res.body.variants.find((v: { id: string }) => v.id === variantId);
    return variant.availableQty as number;
  };

  return {
    api,
    admin,
    customer,
    seedProduct,
    addToCart,
    cartLines,
    placeCheckout,
    outcomeOf,
    availableQty,
  };
}

export type Storefront = Awaited<ReturnType<typeof openStorefront>>;

/** One connection per service database, for the facts only a database shows (and for sabotage). */
export function connectDatabases(stack: Stack) {
  const connect = (url: string) => connectPostgres(url, { max: 1, onnotice: () => {} });
  const dbs = {
    checkout: connect(stack.databases.checkout.url),
    inventory: connect(stack.databases.inventory.url),
    orders: connect(stack.databases.orders.url),
    notifier: connect(stack.databases.notifier.url),
  };
  return { ...dbs, end: () => Promise.all(Object.values(dbs).map((sql) => sql.end())) };
}

export type Databases = ReturnType<typeof connectDatabases>;

/**
 * What a failure test runs against: a mail sink, a stack sending its email there (plus `env`),
 * the storefront and the service databases. `stop()` ends them all; a failed start stops what
 * it had started.
 */
export async function startFailureRig(env: Record<string, string> = {}) {
  const smtp = await startMailSink({ smtpPort: 0, httpPort: 0 });
  let stack: Stack | undefined;
  let db: Databases | undefined;
  const stop = async () => {
    await db?.end();
    await stack?.stop();
    await smtp?.close();
  };
  try {
    stack = await startStack({ env: { SMTP_URL: `smtp://127.0.0.1:${smtp.smtpPort}`, ...env } });
    const shop = await openStorefront(stack);
    db = connectDatabases(stack);
    return { smtp, stack, shop, db, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export type FailureRig = Awaited<ReturnType<typeof startFailureRig>>;

/** A variant's stock as inventory holds it; `available` is what a new reservation could take. */
export async function stockOf(inventory: postgres.Sql, variantId: string) {
  const [row] = await inventory<
    { onHand: number; reserved: number; committed: number; available: number }[]
  >`
    select on_hand as "onHand", reserved, committed, on_hand - reserved - committed as available
    from stock_levels where variant_id = ${variantId}`;
  if (!row) throw new Error(`no stock level for variant ${variantId}`);
  return row;
}

/** The `reserve` rows the ledger holds for a checkout (none = nothing was ever reserved). */
export async function reserveMovementsOf(inventory: postgres.Sql, checkoutId: string) {
  const [row] = await inventory<{ n: number }[]>`
    select count(*)::int as n from stock_movements
    where checkout_id = ${checkoutId} and kind = 'reserve'`;
  return row?.n ?? 0;
}

export const FAILED_SUBJECT = /could not place your order/i;

/** The emails the sink received for one address, optionally only those whose subject matches. */
export const mailsTo = (sink: MailSink, address: string, subject?: RegExp) =>
  sink.messages.filter((m) => m.to.includes(address) && (!subject || subject.test(m.subject)));

/** `pnpm codflow dlq list --json` for the stack's namespace: what an operator on call sees. */
export async function listDeadLetters(stack: Stack) {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", "scripts/codflow.ts", "dlq", "list", "--json"],
    {
      cwd: root,
      env: { ...process.env, NATS_URL: stack.natsUrl, NATS_NAMESPACE: stack.namespace },
    },
  );
  return JSON.parse(stdout) as { total: number; letters: DeadLetter[] };
}
