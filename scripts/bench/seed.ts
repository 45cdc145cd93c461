import { randomInt, randomUUID } from "node:crypto";
import { connectPostgres, DEV_JWT_SECRET } from "@codflow/shared";
import { signToken, waitFor } from "@codflow/shared/testing";
import { type ApiClient, adminToken, verifyPhone } from "../lib/api.ts";
import type { SmsInbox } from "../lib/sms-sink.ts";

/** What the benchmark seeds before the timed phase: a catalogue and ready-to-buy customers. */

export interface BenchCustomer {
  id: string;
  email: string;
  phone: string;
  token: string;
}

/**
 * One vendor and `variants` products of one variant each, with `stockEach` units: the normal
 * scenario spreads its customers over many variants (no single hot row), the flash sale has one.
 */
export async function seedCatalog(
  api: ApiClient,
  { tag, variants, stockEach }: { tag: string; variants: number; stockEach: number },
): Promise<string[]> {
  const token = await adminToken();
  const vendor = await api.post("/v1/admin/catalog/vendors", {
    token,
    body: { name: `Bench ${tag}`, slug: `bench-${tag}` },
  });
  if (vendor.status !== 201)
    throw new Error(`seeding a vendor: ${vendor.status} ${JSON.stringify(vendor.body)}`);
  const ids: string[] = [];
  for (let i = 0; i < variants; i++) {
    const product = await api.post("/v1/admin/catalog/products", {
      token,
      body: {
        vendorId: vendor.body.id,
        slug: `bench-${tag}-${i}`,
        title: `Bench product ${i}`,
        variants: [
          {
            sku: `bench-${tag}-${i}`,
            title: "one",
            priceMinor: 1_000,
            currency: "EUR",
            stock: stockEach,
          },
        ],
      },
    });
    if (product.status !== 201)
      throw new Error(`seeding a product: ${product.status} ${JSON.stringify(product.body)}`);
    ids.push(product.body.variants[0].id as string);
  }
  return ids;
}

/** `count` customer identities with fresh phone numbers in the fictional +1 555 range. */
export async function benchIdentities(
  tag: string,
  count: number,
  first = 0,
): Promise<BenchCustomer[]> {
  const secret = process.env.AUTH_JWT_SECRET || DEV_JWT_SECRET;
  const phoneBase = randomInt(0, 10 ** 11 - 10 ** 7);
  return Promise.all(
    Array.from({ length: count }, async (_, k) => {
      const i = first + k;
      const id = `bench-${tag}-${i}`;
      const email = `${id}@codflow.test`;
      return {
        id,
        email,
        phone: `+1555${String(phoneBase + i).padStart(11, "0")}`,
        token: await signToken({ sub: id, role: "customer", email, expiresIn: "3h" }, secret),
      };
    }),
  );
}

/** Runs `task` over `items` with at most `concurrency` at once. */
async function inParallel<T>(
  items: readonly T[],
  concurrency: number,
  task: (item: T, i: number) => Promise<void>,
) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await task(items[i] as T, i);
      }
    }),
  );
}

/** Waits until checkout's catalogue replica knows `variantId` (a cart line for it is accepted). */
export async function waitForVariant(api: ApiClient, customer: BenchCustomer, variantId: string) {
  await waitFor(
    async () =>
      (await api.post("/v1/cart/lines", { token: customer.token, body: { variantId, qty: 1 } }))
        .status === 201,
    { timeoutMs: 30_000, intervalMs: 100, what: `variant ${variantId} in checkout's catalogue` },
  );
}

/**
 * Through the API, as a storefront would: each customer verifies the phone (code from the SMS
 * sink) and puts one unit of its variant in the cart; `concurrency` customers at a time.
 */
export async function seedCustomersViaApi(
  api: ApiClient,
  sms: SmsInbox,
  customers: readonly BenchCustomer[],
  variantOf: (i: number) => string,
  concurrency: number,
) {
  await inParallel(customers, concurrency, async (c, i) => {
    await verifyPhone(api, sms, c.token, c.phone);
    const line = await api.post("/v1/cart/lines", {
      token: c.token,
      body: { variantId: variantOf(i), qty: 1 },
    });
    if (line.status !== 201)
      throw new Error(`POST /v1/cart/lines answered ${line.status}: ${JSON.stringify(line.body)}`);
  });
}

/**
 * Straight into checkout's database, for runs too large to verify through the API in time:
 * a verified COD profile and a cart with one line per customer, rows the API would have written
 * (cod_customers, carts, cart_lines), many per statement. Only for a stack the bench started.
 */
export async function seedCustomersInDatabase(
  checkoutUrl: string,
  customers: readonly BenchCustomer[],
  variantOf: (i: number) => string,
) {
  const sql = connectPostgres(checkoutUrl, { max: 4, onnotice: () => {} });
  try {
    const batches: number[] = [];
    for (let from = 0; from < customers.length; from += 5_000) batches.push(from);
    await inParallel(batches, 4, async (from) => {
      const batch = customers.slice(from, from + 5_000);
      const cartIds = batch.map(() => randomUUID());
      await sql.begin(async (tx) => {
        await tx`
          insert into cod_customers (customer_id, verified_phone, phone_verified_at)
          select * from unnest(${batch.map((c) => c.id)}::text[], ${batch.map((c) => c.phone)}::text[]),
                 now()`;
        await tx`
          insert into carts (id, customer_id)
          select * from unnest(${cartIds}::uuid[], ${batch.map((c) => c.id)}::text[])`;
        await tx`
          insert into cart_lines (id, cart_id, variant_id, qty)
          select *, 1 from unnest(${batch.map(() => randomUUID())}::uuid[], ${cartIds}::uuid[],
                                  ${batch.map((_, k) => variantOf(from + k))}::uuid[])`;
      });
    });
  } finally {
    await sql.end();
  }
}
