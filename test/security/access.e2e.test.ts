import { randomUUID } from "node:crypto";
import { signToken } from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { customer as unverifiedCustomer, type VerifiedCustomer } from "../../scripts/lib/api.ts";
import { openStorefront, type Storefront } from "../support/failure-kit.ts";
import { type Stack, startStack } from "../support/stack.ts";

/**
 * The admin routes a courier may use too (API.md: couriers move orders along the delivery
 * lifecycle); every other /v1/admin route is for admins alone.
 */
const COURIER_ROUTES = new Set(["POST /v1/admin/orders/{id}/transitions"]);

type Operation = { security?: Array<Record<string, string[]>> };
type OpenApi = { paths: Record<string, Record<string, Operation>> };
const METHODS = ["get", "post", "put", "patch", "delete"] as const;

let stack: Stack;
let shop: Storefront;
let alice: VerifiedCustomer;
let bob: { token: string };
let courier: string;
/** Alice's confirmed checkout and its order, and a line still in her cart. */
let checkoutId: string;
let orderId: string;
let aliceLineId: string;
let operations: Array<{ method: string; path: string; secured: boolean }>;

beforeAll(async () => {
  stack = await startStack();
  shop = await openStorefront(stack);
  courier = await signToken({ sub: `courier-${randomUUID()}`, role: "courier" });
  alice = await shop.customer("alice");
  bob = await unverifiedCustomer("bob");

  const { variant } = await shop.seedProduct("Access", { sku: "A", priceMinor: 1500, stock: 10 });
  await shop.addToCart(alice.token, variant.id, 1);
  const placed = await shop.placeCheckout(alice, { waitSeconds: 10 });
  checkoutId = placed.body.id;
  const outcome = await shop.outcomeOf(alice.token, checkoutId);
  expect(outcome.status).toBe("confirmed");
  orderId = outcome.orderId;
  await shop.addToCart(alice.token, variant.id, 2);
  aliceLineId = (await shop.cartLines(alice.token))[0]?.id as string;

  const doc = (await (await fetch(`${stack.gatewayUrl}/openapi.json`)).json()) as OpenApi;
  operations = Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((method) => ({
      method: method.toUpperCase(),
      path,
      secured: (item[method]?.security ?? []).length > 0,
    })),
  );
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

async function expectNotFound(res: { status: number; headers: Headers; body: unknown }) {
  expect(res.status).toBe(404);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
}

describe("a customer reaches only their own resources (others' answer 404)", () => {
  it("cannot change or remove another customer's cart line", async () => {
    const path = `/v1/cart/lines/${aliceLineId}`;
    await expectNotFound(await shop.api.patch(path, { token: bob.token, body: { qty: 5 } }));
    await expectNotFound(await shop.api.delete(path, { token: bob.token }));
    expect(await shop.cartLines(alice.token)).toEqual([
      expect.objectContaining({ id: aliceLineId, qty: 2 }),
    ]);
  });

  it("cannot read another customer's checkout or follow its events", async () => {
    await expectNotFound(await shop.api.get(`/v1/checkouts/${checkoutId}`, { token: bob.token }));
    await expectNotFound(
      await shop.api.get(`/v1/checkouts/${checkoutId}/events`, { token: bob.token }),
    );
    expect((await shop.api.get(`/v1/checkouts/${checkoutId}`, { token: alice.token })).status).toBe(
      200,
    );
  });

  it("cannot read or cancel another customer's order, nor see it listed", async () => {
    await expectNotFound(await shop.api.get(`/v1/orders/${orderId}`, { token: bob.token }));
    await expectNotFound(
      await shop.api.post(`/v1/orders/${orderId}/cancel`, { token: bob.token, body: {} }),
    );
    const order = await shop.api.get(`/v1/orders/${orderId}`, { token: alice.token });
    expect(order.status).toBe(200);
    expect(order.body.status).toBe("confirmed");
    const bobsOrders = await shop.api.get("/v1/orders", { token: bob.token });
    expect(bobsOrders.status).toBe(200);
    expect(bobsOrders.body.items).toEqual([]);
  });
});

/** Every `{param}` of an OpenAPI path filled with a fresh uuid. */
const concrete = (path: string) => path.replace(/\{[^}]+\}/g, () => randomUUID());

async function send(method: string, path: string, token?: string) {
  const res = await fetch(`${stack.gatewayUrl}${concrete(path)}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(method === "GET" || method === "DELETE" ? {} : { "content-type": "application/json" }),
      "idempotency-key": randomUUID(),
    },
    ...(method === "GET" || method === "DELETE" ? {} : { body: "{}" }),
  });
  const body = await res.text();
  return { status: res.status, type: res.headers.get("content-type"), body };
}

describe("roles, for every operation of the gateway's merged OpenAPI document", () => {
  it("covers the admin routes of every service", () => {
    const admin = operations.filter((o) => o.path.startsWith("/v1/admin/"));
    for (const prefix of ["/v1/admin/catalog/", "/v1/admin/orders", "/v1/admin/customers/"]) {
      expect(
        admin.some((o) => o.path.startsWith(prefix)),
        prefix,
      ).toBe(true);
    }
  });

  it("declares every admin route as needing a bearer token", () => {
    const undeclared = operations.filter((o) => o.path.startsWith("/v1/admin/") && !o.secured);
    expect(undeclared).toEqual([]);
  });

  it("refuses a request without a token on every secured route with 401 problem+json", async () => {
    const answers = await Promise.all(
      operations
        .filter((o) => o.secured)
        .map(async (o) => ({ route: `${o.method} ${o.path}`, ...(await send(o.method, o.path)) })),
    );
    for (const { route, status, type } of answers) {
      expect({ route, status, type }).toEqual({
        route,
        status: 401,
        type: "application/problem+json",
      });
    }
  });

  it("refuses customers on every admin route, and couriers on all but theirs, with 403", async () => {
    const customerToken = alice.token;
    const answers = await Promise.all(
      operations
        .filter((o) => o.path.startsWith("/v1/admin/"))
        .flatMap((o) => {
          const route = `${o.method} ${o.path}`;
          return [
            { route, role: "customer", token: customerToken, allowed: false },
            { route, role: "courier", token: courier, allowed: COURIER_ROUTES.has(route) },
          ].map(async ({ role, token, allowed }) => {
            const { status, type } = await send(o.method, o.path, token);
            return { route, role, allowed, status, type };
          });
        }),
    );
    for (const answer of answers) {
      if (answer.allowed) {
        expect(answer.status, `${answer.role} on ${answer.route}`).not.toBeOneOf([401, 403]);
      } else {
        expect(answer).toEqual({ ...answer, status: 403, type: "application/problem+json" });
      }
    }
    expect(answers.filter((a) => a.allowed).map((a) => a.route)).toEqual([...COURIER_ROUTES]);
  });

  it("refuses admins and couriers on the customers' own routes with 403", async () => {
    const customerRoutes = operations.filter((o) => o.secured && !o.path.startsWith("/v1/admin/"));
    expect(customerRoutes.length).toBeGreaterThan(0);
    const admin = await signToken({ sub: "admin-access", role: "admin" });
    const answers = await Promise.all(
      customerRoutes.flatMap((o) =>
        [admin, courier].map(async (token) => ({
          route: `${o.method} ${o.path}`,
          ...(await send(o.method, o.path, token)),
        })),
      ),
    );
    for (const { route, status, type } of answers) {
      expect({ route, status, type }).toEqual({
        route,
        status: 403,
        type: "application/problem+json",
      });
    }
  });

  it("serves the public routes without a token", async () => {
    const open = operations.filter((o) => !o.secured);
    expect(open.length).toBeGreaterThan(0);
    for (const o of open) expect((await send(o.method, o.path)).status).not.toBe(401);
  });
});
