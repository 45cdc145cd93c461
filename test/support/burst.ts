import { randomUUID } from "node:crypto";
import { waitFor } from "@codflow/shared/testing";
import { type ApiClient, checkoutBodyFor, verifiedCustomer } from "../../scripts/lib/api.ts";
import type { SmsInbox } from "../../scripts/lib/sms-sink.ts";

type Response = Awaited<ReturnType<ApiClient["get"]>>;

/** A variant the burst sells: its own product (so it can be archived alone) of one of two vendors. */
export interface SeededVariant {
  id: string;
  productId: string;
  vendorId: string;
  slug: string;
  priceMinor: number;
  stock: number;
}

/** Plentiful variants no burst can exhaust, and scarce ones some checkouts lose (out_of_stock). */
export interface BurstCatalog {
  plentiful: SeededVariant[];
  scarce: SeededVariant[];
}

export interface Shopper {
  id: string;
  email: string;
  token: string;
  /** Verified before the burst, so the first-COD-order rule lets the checkout through. */
  phone: string;
  lines: { variantId: string; qty: number }[];
}

export interface AcceptedCheckout {
  shopper: Shopper;
  checkoutId: string;
  key: string;
}

export interface BurstResult {
  accepted: AcceptedCheckout[];
  /** Final answers other than 200/202 (a 4xx the storefront would show), by shopper. */
  refused: { shopper: Shopper; status: number; type: string }[];
  /** Requests sent again with the same key, by the status (or "network") that made us retry. */
  retries: Record<string, number>;
}

/** Answers a storefront sends again with the same Idempotency-Key instead of giving up. */
const RETRYABLE = new Set([500, 502, 503, 504]);
const RETRY_PAUSE_MS = 150;

/**
 * One API call as a storefront makes it: a network error or a 5xx from the gateway (service
 * down, restarting, its database away) is retried after a short pause until `deadline`, and so
 * is 409 request-in-progress (the same key's first attempt is still running).
 */
export async function persistently(
  call: () => Promise<Response>,
  { deadline, retries }: { deadline: number; retries?: Record<string, number> },
): Promise<Response> {
  for (;;) {
    let cause: string;
    try {
      const res = await call();
      const inProgress = res.status === 409 && problemSlug(res) === "request-in-progress";
      if (!RETRYABLE.has(res.status) && !inProgress) return res;
      cause = inProgress ? "409 request-in-progress" : String(res.status);
    } catch (err) {
      cause = "network";
      if (Date.now() > deadline) throw err;
    }
    if (retries) retries[cause] = (retries[cause] ?? 0) + 1;
    if (Date.now() > deadline) throw new Error(`gave up retrying after ${cause}`);
    await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
  }
}

export const problemSlug = (res: Response) =>
  typeof res.body === "object" && res.body && typeof res.body.type === "string"
    ? (res.body.type.split("/").pop() as string)
    : "";

/** Runs `work` over `items` with at most `limit` in flight; results keep the items' order. */
export async function inParallel<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

const suffix = () => randomUUID().slice(0, 8);

/**
 * Seeds two vendors and one product per variant: `plentiful` variants with `plentifulStock`
 * units each and `scarce` ones with `scarceStock`.
 */
export async function seedCatalog(
  api: ApiClient,
  admin: string,
  { plentiful = 4, scarce = 2, plentifulStock = 100_000, scarceStock = 3 } = {},
): Promise<BurstCatalog> {
  const deadline = Date.now() + 60_000;
  const vendors = await Promise.all(
    ["Burst Outfitters", "Chaos Goods"].map(async (name) => {
      const res = await persistently(
        () =>
          api.post("/v1/admin/catalog/vendors", {
            token: admin,
            body: { name, slug: `vendor-${suffix()}` },
          }),
        { deadline },
      );
      if (res.status !== 201) throw new Error(`vendor: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.id as string;
    }),
  );
  const product = async (i: number, stock: number, label: string): Promise<SeededVariant> => {
    const vendorId = vendors[i % vendors.length] as string;
    const slug = `${label}-${i}-${suffix()}`;
    const priceMinor = 500 + 125 * i;
    const res = await persistently(
      () =>
        api.post("/v1/admin/catalog/products", {
          token: admin,
          body: {
            vendorId,
            slug,
            title: `${label} ${i}`,
            variants: [
              { sku: `SKU-${slug}`, title: "one size", priceMinor, currency: "EUR", stock },
            ],
          },
        }),
      { deadline },
    );
    if (res.status !== 201) throw new Error(`product: ${res.status} ${JSON.stringify(res.body)}`);
    return {
      id: res.body.variants[0].id,
      productId: res.body.id,
      vendorId,
      slug,
      priceMinor,
      stock,
    };
  };
  return {
    plentiful: await Promise.all(
      Array.from({ length: plentiful }, (_, i) => product(i, plentifulStock, "plenty")),
    ),
    scarce: await Promise.all(
      Array.from({ length: scarce }, (_, i) => product(i, scarceStock, "scarce")),
    ),
  };
}

/**
 * Adds a line once the checkout service's catalog replica knows the variant (422 until then);
 * returns the final answer (201, or a 4xx such as 422 for an archived variant after `deadline`).
 */
export async function addToCart(
  api: ApiClient,
  token: string,
  line: { variantId: string; qty: number },
  { timeoutMs = 20_000 } = {},
): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  let last: Response | undefined;
  await waitFor(
    async () => {
      last = await persistently(() => api.post("/v1/cart/lines", { token, body: line }), {
        deadline,
      });
      return last.status !== 422 || Date.now() > deadline;
    },
    { timeoutMs: timeoutMs + 5_000, intervalMs: 100, what: `variant ${line.variantId} in a cart` },
  );
  return last as Response;
}

/**
 * `n` customers, each with a verified phone (its code read from `sms`) and a cart: one or two
 * plentiful variants, and every `scarceEvery`-th customer one unit of a scarce variant too (so
 * some checkouts fail out_of_stock).
 */
export async function makeShoppers(
  api: ApiClient,
  sms: SmsInbox,
  catalog: BurstCatalog,
  n: number,
  { scarceEvery = 5, concurrency = 20 } = {},
): Promise<Shopper[]> {
  const { plentiful, scarce } = catalog;
  return inParallel(
    Array.from({ length: n }, (_, i) => i),
    concurrency,
    async (i) => {
      const who = await verifiedCustomer(api, sms, "burst");
      const lines = [{ variantId: (plentiful[i % plentiful.length] as SeededVariant).id, qty: 1 }];
      if (plentiful.length > 1 && i % 2 === 1) {
        lines.push({
          variantId: (plentiful[(i + 1) % plentiful.length] as SeededVariant).id,
          qty: 2,
        });
      }
      if (scarce.length > 0 && i % scarceEvery === 0) {
        const pick = scarce[Math.floor(i / scarceEvery) % scarce.length] as SeededVariant;
        lines.push({ variantId: pick.id, qty: 1 });
      }
      for (const line of lines) {
        const res = await addToCart(api, who.token, line);
        if (res.status !== 201)
          throw new Error(`cart line: ${res.status} ${JSON.stringify(res.body)}`);
      }
      return { ...who, lines };
    },
  );
}

/**
 * Places one checkout as a storefront does: one Idempotency-Key for the purchase, the request
 * sent again with that key after a network error or a 5xx until it gets 200/202 or a 4xx.
 */
export async function placeCheckout(
  api: ApiClient,
  shopper: Shopper,
  { deadline, retries }: { deadline: number; retries: Record<string, number> },
): Promise<{ accepted: AcceptedCheckout } | { refused: BurstResult["refused"][number] }> {
  const key = randomUUID();
  const res = await persistently(
    () =>
      api.post("/v1/checkouts", {
        token: shopper.token,
        body: checkoutBodyFor(shopper.phone),
        headers: { "idempotency-key": key },
      }),
    { deadline, retries },
  );
  if (res.status === 200 || res.status === 202) {
    return { accepted: { shopper, checkoutId: res.body.id as string, key } };
  }
  return { refused: { shopper, status: res.status, type: problemSlug(res) } };
}

/**
 * Fires every shopper's checkout with at most `concurrency` requests in flight, each with its
 * own key and `patienceMs` to get an answer. `onAccepted(count)` runs after each acceptance, so
 * a test can strike mid-burst.
 */
export async function fireCheckouts(
  api: ApiClient,
  shoppers: readonly Shopper[],
  {
    concurrency = 20,
    patienceMs = 60_000,
    onAccepted,
  }: { concurrency?: number; patienceMs?: number; onAccepted?: (count: number) => void } = {},
): Promise<BurstResult> {
  const result: BurstResult = { accepted: [], refused: [], retries: {} };
  await inParallel(shoppers, concurrency, async (shopper) => {
    const deadline = Date.now() + patienceMs;
    const outcome = await placeCheckout(api, shopper, { deadline, retries: result.retries });
    if ("accepted" in outcome) {
      result.accepted.push(outcome.accepted);
      onAccepted?.(result.accepted.length);
    } else {
      result.refused.push(outcome.refused);
    }
  });
  return result;
}
