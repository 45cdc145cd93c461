import { signToken, waitFor } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  publishReserved,
  reservedData,
  shippingAddress,
  startOrdersFixture,
  vendorData,
} from "./helpers.ts";

let fx: Awaited<ReturnType<typeof startOrdersFixture>>;
const vendorId = uuidv7();
const alice = "customer-alice";
const bob = "customer-bob";
let bobsOrderId: string;
let alicesCheckoutId: string;

/** Given: 25 orders of Alice's and one of Bob's, made by the real consumer. */
beforeAll(async () => {
  fx = await startOrdersFixture();
  await fx.publish("inventory.vendor_upserted", vendorData(vendorId));
  const checkouts = Array.from({ length: 25 }, () => reservedData(vendorId, { customerId: alice }));
  alicesCheckoutId = checkouts[0]?.checkoutId ?? "";
  const bobs = reservedData(vendorId, { customerId: bob });
  for (const data of [...checkouts, bobs]) await publishReserved(fx, data);
  await waitFor(async () => (await fx.sql`select count(*)::int as n from orders`)[0]?.n === 26, {
    timeoutMs: 20_000,
    what: "26 orders created",
  });
  const [row] = await fx.sql`select id from orders where customer_id = ${bob}`;
  bobsOrderId = row?.id;
});
afterAll(() => fx?.close());

type OrderJson = Record<string, unknown> & { items: unknown[] };
type PageJson = { items: OrderJson[]; nextCursor: string | null };
type ProblemJson = { type: string; errors?: unknown[] };
const json = async <T>(res: Response) => (await res.json()) as T;

const get = async (path: string, sub?: string, role: "customer" | "admin" = "customer") => {
  const headers: Record<string, string> = sub
    ? { authorization: `Bearer ${await signToken({ sub, role })}` }
    : {};
  return fx.app.request(path, { headers });
};

describe("GET /v1/orders/:id", () => {
  it("shows the customer's own order with its items and status history", async () => {
    const [order] =
      await fx.sql`select id, number from orders where checkout_id = ${alicesCheckoutId}`;

    const res = await get(`/v1/orders/${order?.id}`, alice);

    expect(res.status).toBe(200);
    const body = await json<OrderJson>(res);
    const data = reservedData(vendorId);
    expect(body).toMatchObject({
      id: order?.id,
      number: order?.number,
      checkoutId: alicesCheckoutId,
      status: "confirmed",
      totalMinor: 3499,
      currency: "EUR",
      paymentMethod: "cod",
      shippingAddress,
      history: [{ status: "confirmed", at: expect.stringMatching(/Z$/) }],
      createdAt: expect.stringMatching(/Z$/),
    });
    expect(body.items).toEqual(
      data.lines.map((l) => ({
        variantId: expect.any(String),
        productSlug: l.productSlug,
        vendorId,
        sku: l.sku,
        title: l.title,
        qty: l.qty,
        unitPriceMinor: l.unitPriceMinor,
      })),
    );
  });

  it("answers 404 for another customer's order, as if it did not exist", async () => {
    const res = await get(`/v1/orders/${bobsOrderId}`, alice);

    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect((await json<ProblemJson>(res)).type).toMatch(/\/not-found$/);
  });

  it("answers 401 without a token and 403 for a non-customer role", async () => {
    expect((await get(`/v1/orders/${bobsOrderId}`)).status).toBe(401);
    expect((await get("/v1/orders")).status).toBe(401);
    expect((await get("/v1/orders", "ops-1", "admin")).status).toBe(403);
  });
});

describe("GET /v1/orders", () => {
  it("pages through the customer's 25 orders newest first with a cursor, each exactly once", async () => {
    const expected = (
      await fx.sql`select id from orders where customer_id = ${alice} order by created_at desc, id desc`
    ).map((r) => r.id);
    const seen: string[] = [];
    const pageSizes: number[] = [];
    let cursor: string | null = null;

    do {
      const query: string = `?limit=10${cursor ? `&cursor=${cursor}` : ""}`;
      const res = await get(`/v1/orders${query}`, alice);
      expect(res.status).toBe(200);
      const page = await json<PageJson>(res);
      seen.push(...page.items.map((o) => String(o.id)));
      pageSizes.push(page.items.length);
      cursor = page.nextCursor;
    } while (cursor);

    expect(pageSizes).toEqual([10, 10, 5]);
    expect(seen).toEqual(expected);
    expect(seen).not.toContain(bobsOrderId);
  });

  it("returns 20 by default and refuses a limit over 100 or a forged cursor with 400", async () => {
    const page = await json<PageJson>(await get("/v1/orders", alice));
    expect(page.items).toHaveLength(20);
    expect(page.nextCursor).toEqual(expect.any(String));

    expect((await get("/v1/orders?limit=101", alice)).status).toBe(400);
    expect((await get("/v1/orders?limit=0", alice)).status).toBe(400);
    const forged = await get("/v1/orders?cursor=bm90LWEtY3Vyc29y", alice);
    expect(forged.status).toBe(400);
    expect((await json<ProblemJson>(forged)).errors).toEqual([
      { path: "cursor", message: "not a cursor this API returned" },
    ]);
  });

  it("shows a customer without orders an empty list", async () => {
    const page = await json<PageJson>(await get("/v1/orders", "customer-new"));
    expect(page).toEqual({ items: [], nextCursor: null });
  });
});
