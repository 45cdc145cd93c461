import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { httpClient } from "./load.ts";

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
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, url: `http://127.0.0.1:${port}`, seen: () => requests });
    }),
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
    await new Promise<void>((done) => refusing.listen(0, "127.0.0.1", done));
    const { port } = refusing.address() as AddressInfo;
    const client = httpClient(`http://127.0.0.1:${port}`, 1);
    let requests = 0;
    refusing.on("request", () => requests++);
    try {
      await expect(client.call("GET", "/", {})).rejects.toMatchObject({ code: "ECONNRESET" });
      expect(requests).toBe(1);
    } finally {
      client.close();
    }
  });
});
