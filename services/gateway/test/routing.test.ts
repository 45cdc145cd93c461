import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningGateway } from "../src/server.ts";
import { type RunningServer, startServer, startTestGateway, unreachableUrl } from "./helpers.ts";

/** An upstream that tells who it is and what it received. */
function echoService(name: string): Hono {
  const app = new Hono();
  app.all("*", async (c) => {
    const body = await c.req.text();
    return c.json(
      {
        service: name,
        method: c.req.method,
        path: c.req.path,
        query: new URL(c.req.url).search,
        authorization: c.req.header("authorization") ?? null,
        idempotencyKey: c.req.header("idempotency-key") ?? null,
        prefer: c.req.header("prefer") ?? null,
        forwardedHost: c.req.header("x-forwarded-host") ?? null,
        forwardedFor: c.req.header("x-forwarded-for") ?? null,
        body,
      },
      c.req.path.endsWith("/created") ? 201 : 200,
      { "x-upstream": name },
    );
  });
  return app;
}

describe("gateway routing", () => {
  const upstreams: RunningServer[] = [];
  let gateway: RunningGateway;

  beforeAll(async () => {
    const [checkoutA, checkoutB, inventory, orders] = await Promise.all([
      startServer(echoService("checkout-a")),
      startServer(echoService("checkout-b")),
      startServer(echoService("inventory")),
      startServer(echoService("orders")),
    ]);
    upstreams.push(checkoutA, checkoutB, inventory, orders);
    gateway = await startTestGateway({
      CHECKOUT_URL: `${checkoutA.url},${checkoutB.url}`,
      INVENTORY_URL: inventory.url,
      ORDERS_URL: orders.url,
    });
  });

  afterAll(async () => {
    await gateway?.close();
    await Promise.all(upstreams.map((u) => u.close()));
  });

  const get = async (path: string) => {
    const res = await fetch(gateway.url + path);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it.each([
    ["/v1/cart", "checkout"],
    ["/v1/cart/lines/42", "checkout"],
    ["/v1/checkouts/abc/events", "checkout"],
    ["/v1/me/phone/verification", "checkout"],
    ["/v1/admin/customers/u1/cod", "checkout"],
    ["/v1/admin/catalog/vendors", "inventory"],
    ["/v1/products/some-slug", "inventory"],
    ["/v1/orders", "orders"],
    ["/v1/orders/o1/cancel", "orders"],
    ["/v1/admin/orders/o1/audit", "orders"],
  ])("sends %s to %s", async (path, service) => {
    const { status, body } = await get(path);
    expect(status).toBe(200);
    expect(String(body.service)).toMatch(new RegExp(`^${service}`));
    expect(body.path).toBe(path);
  });

  it.each(["/v1/cartoon", "/v1", "/v2/cart", "/admin/orders"])(
    "answers 404 problem+json for the unrouted path %s",
    async (path) => {
      const res = await fetch(gateway.url + path);
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      const problem = (await res.json()) as Record<string, unknown>;
      expect(problem).toMatchObject({ status: 404, title: "Not Found" });
      expect(String(problem.type)).toMatch(/\/not-found$/);
    },
  );

  it("passes method, query, body, auth, Idempotency-Key and Prefer through, and the status back", async () => {
    const res = await fetch(`${gateway.url}/v1/admin/catalog/created?limit=5&cursor=x`, {
      method: "POST",
      headers: {
        authorization: "Bearer token-1",
        "idempotency-key": "key-1",
        prefer: "wait=10",
        "content-type": "application/json",
      },
      body: JSON.stringify({ name: "Vendor" }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("x-upstream")).toBe("inventory");
    expect(await res.json()).toMatchObject({
      method: "POST",
      query: "?limit=5&cursor=x",
      authorization: "Bearer token-1",
      idempotencyKey: "key-1",
      prefer: "wait=10",
      forwardedHost: new URL(gateway.url).host,
      body: JSON.stringify({ name: "Vendor" }),
    });
  });

  it("appends the client's socket address to X-Forwarded-For, after what the client claimed", async () => {
    const plain = await fetch(`${gateway.url}/v1/cart`);
    expect(((await plain.json()) as { forwardedFor: string }).forwardedFor).toBe("127.0.0.1");

    const forged = await fetch(`${gateway.url}/v1/cart`, {
      headers: { "x-forwarded-for": "198.51.100.7" },
    });
    expect(((await forged.json()) as { forwardedFor: string }).forwardedFor).toBe(
      "198.51.100.7, 127.0.0.1",
    );
  });

  it("spreads requests round-robin over the replicas of a service", async () => {
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push((await get("/v1/cart")).body.service);
    expect(new Set(answers)).toEqual(new Set(["checkout-a", "checkout-b"]));
    expect(answers[0]).not.toBe(answers[1]);
    expect(answers[0]).toBe(answers[2]);
  });
});

describe("gateway connections to a service", () => {
  it("keeps them alive: one connection carries requests one after another", async () => {
    const connections = new Set<unknown>();
    const upstream = createServer((req, res) => {
      connections.add(req.socket);
      req.resume();
      res.end("{}");
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    const gateway = await startTestGateway({
      ORDERS_URL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
    });
    try {
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${gateway.url}/v1/orders`, { method: i % 2 ? "POST" : "GET" });
        expect(res.status).toBe(200);
        await res.arrayBuffer();
      }
      expect(connections.size).toBe(1);
    } finally {
      await gateway.close();
      upstream.closeAllConnections();
      upstream.close();
    }
  });
});

describe("gateway with one replica down", () => {
  it("sends a POST without a body on to the next replica when one refuses the connection", async () => {
    const alive = await startServer(echoService("orders-alive"));
    const gateway = await startTestGateway({
      ORDERS_URL: `${await unreachableUrl()},${alive.url}`,
    });
    try {
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${gateway.url}/v1/orders/o1/cancel`, { method: "POST" });
        expect(res.status).toBe(200);
        expect(await res.json()).toMatchObject({ service: "orders-alive", method: "POST" });
      }
    } finally {
      await gateway.close();
      await alive.close();
    }
  });

  it("tries the next replica for a request without a body", async () => {
    const alive = await startServer(echoService("orders-alive"));
    const gateway = await startTestGateway({
      ORDERS_URL: `${await unreachableUrl()},${alive.url}`,
    });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${gateway.url}/v1/orders`);
        expect(res.status).toBe(200);
        expect(await res.json()).toMatchObject({ service: "orders-alive" });
      }
    } finally {
      await gateway.close();
      await alive.close();
    }
  });
});
