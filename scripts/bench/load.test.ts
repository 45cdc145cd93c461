import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { checkOut, httpClient } from "./load.ts";

/**
 * The keep-alive race, made to happen every time: the server answers the first request on each
 * connection and destroys the connection when a second request arrives on it, unanswered — what
 * a server closing an idle socket does to a request already on its way.
 */
function startServer(): Promise<{ server: Server; url: string; seen: () => number }> {
  let requests = 0;
  const answered = new WeakSet<object>();
  const server = createServer((req, res) => {
    requests++;
    if (answered.has(req.socket)) return req.socket.destroy();
    answered.add(req.socket);
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ n: requests }));
  });
  return listening(server).then((url) => ({ server, url, seen: () => requests }));
}

/** Starts `server` on a free loopback port; resolves to its base URL. */
function listening(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

describe("the load generator's HTTP client", () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

  it("sends again a request that the server dropped on a reused keep-alive socket", async () => {
    const started = await startServer();
    server = started.server;
    const client = httpClient(started.url, 1);
    try {
      expect(await client.call("GET", "/", {})).toEqual({ status: 200, body: { n: 1 } });
      // same pooled socket: the server drops it unanswered, the client re-sends on a new one
      expect(await client.call("POST", "/", { "idempotency-key": "k" }, "{}")).toEqual({
        status: 200,
        body: { n: 3 },
      });
      expect(started.seen()).toBe(3);
    } finally {
      client.close();
    }
  });

  it("gives up on a failure on a new socket: nothing is sent twice there", async () => {
    const refusing = createServer((req) => req.socket.destroy());
    server = refusing;
    const client = httpClient(await listening(refusing), 1);
    let requests = 0;
    refusing.on("request", () => requests++);
    try {
      await expect(client.call("GET", "/", {})).rejects.toMatchObject({ code: "ECONNRESET" });
      expect(requests).toBe(1);
    } finally {
      client.close();
    }
  });

  it("checks out as a storefront: a 503 and a 504 are sent again with the same key, and counted", async () => {
    const keys: string[] = [];
    const checkout = { id: "0190f0f0-0000-7000-8000-000000000001", status: "confirmed" };
    const flaky = createServer((req, res) => {
      keys.push(String(req.headers["idempotency-key"]));
      req.resume();
      res.setHeader("content-type", "application/problem+json");
      if (keys.length === 1) {
        res.statusCode = 503;
        return res.end(JSON.stringify({ type: "https://codflow.dev/problems/unavailable" }));
      }
      if (keys.length === 2) {
        res.statusCode = 504;
        return res.end(JSON.stringify({ type: "https://codflow.dev/problems/gateway-timeout" }));
      }
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(checkout));
    });
    server = flaky;
    const client = httpClient(await listening(flaky), 2);
    const customer = { id: "c", email: "c@example.test", phone: "+4915112345678", token: "t" };
    try {
      const outcome = await checkOut(client, customer, performance.now());
      expect(outcome.attempts).toEqual([
        { httpStatus: 503, slug: "unavailable" },
        { httpStatus: 504, slug: "gateway-timeout" },
        { httpStatus: 200 },
      ]);
      expect(outcome).toMatchObject({ checkoutId: checkout.id, status: "confirmed" });
      expect(new Set(keys).size).toBe(1);
    } finally {
      client.close();
    }
  });

  it("does not send a refused checkout again", async () => {
    let requests = 0;
    const refusing = createServer((req, res) => {
      requests++;
      req.resume();
      res.statusCode = 422;
      res.setHeader("content-type", "application/problem+json");
      res.end(JSON.stringify({ type: "https://codflow.dev/problems/variant-unavailable" }));
    });
    server = refusing;
    const client = httpClient(await listening(refusing), 2);
    const customer = { id: "c", email: "c@example.test", phone: "+4915112345678", token: "t" };
    try {
      const outcome = await checkOut(client, customer, performance.now());
      expect(outcome.attempts).toEqual([{ httpStatus: 422, slug: "variant-unavailable" }]);
      expect(outcome.status).toBeUndefined();
      expect(requests).toBe(1);
    } finally {
      client.close();
    }
  });
});
