import { createServer, request, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { waitFor } from "@codflow/shared/testing";
import { afterEach, describe, expect, it } from "vitest";
import { startTestGateway, unreachableUrl } from "./helpers.ts";

/*
 * A busy Node service accepts one connection per event-loop turn, so the gateway opens
 * connections to a replica no faster than it proves it takes them (connection-ramp.ts). Here
 * the replica holds every answer until the test lets it go.
 */

const open: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((close) => close()));
});

/** A replica holding its answers; counts the connections its requests came on. */
async function holdingReplica() {
  const held: ServerResponse[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    if (req.url === "/readyz") return res.end();
    sockets.add(req.socket);
    held.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  open.push(
    () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held,
    connections: () => sockets.size,
    answerAll() {
      for (const res of held.splice(0)) res.end('{"ok":true}');
    },
  };
}

/** GET through the gateway; resolves with the status once the request is written, and answered. */
function get(url: string) {
  let written = () => {};
  const sent = new Promise<void>((resolve) => {
    written = resolve;
  });
  const answered = new Promise<number>((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end(written);
  });
  return { sent, answered };
}

describe("connections to a replica", () => {
  it("opens UPSTREAM_CONNECT_BURST at first, and more only as those answer", async () => {
    const replica = await holdingReplica();
    const gateway = await startTestGateway({
      ORDERS_URL: replica.url,
      UPSTREAM_CONNECT_BURST: "4",
      UPSTREAM_MAX_SOCKETS: "64",
    });
    open.push(() => gateway.close());

    const calls = Array.from({ length: 12 }, () => get(`${gateway.url}/v1/orders`));
    await Promise.all(calls.map((c) => c.sent));
    await waitFor(() => replica.held.length === 4, { what: "4 requests at the replica" });
    expect(replica.connections()).toBe(4);

    // the four connections answered: each may carry the next request, and four more may open
    replica.answerAll();
    await waitFor(() => replica.held.length === 8, { what: "the other 8 at the replica" });
    expect(replica.connections()).toBe(8);
    replica.answerAll();

    expect(await Promise.all(calls.map((c) => c.answered))).toEqual(Array(12).fill(200));
  });

  it("answers 504 to a request that waited for a connection past UPSTREAM_TIMEOUT_MS", async () => {
    const replica = await holdingReplica();
    const gateway = await startTestGateway({
      ORDERS_URL: replica.url,
      UPSTREAM_MAX_SOCKETS: "1",
      UPSTREAM_TIMEOUT_MS: "300",
    });
    open.push(() => gateway.close());
    const first = get(`${gateway.url}/v1/orders`);
    await waitFor(() => replica.held.length === 1, { what: "the first request at the replica" });
    // its answer has begun, so its timeout is over, but its body keeps the connection (as SSE does)
    replica.held[0]?.write("{");
    expect(await first.answered).toBe(200);

    const second = get(`${gateway.url}/v1/orders`);

    expect(await second.answered).toBe(504);
    expect(replica.held).toHaveLength(1);
  });

  it("answers 504 to a request resent to a replica with no connection free, once it waited past UPSTREAM_TIMEOUT_MS", async () => {
    const replica = await holdingReplica();
    // the first replica refuses every connection and stays in rotation (never ejected, no probe
    // within the test), so each request tries it first and is resent to the holding one
    const gateway = await startTestGateway({
      ORDERS_URL: `${await unreachableUrl()},${replica.url}`,
      UPSTREAM_MAX_SOCKETS: "1",
      UPSTREAM_TIMEOUT_MS: "300",
      UPSTREAM_EJECTION_MS: "0",
      UPSTREAM_READINESS_INTERVAL_MS: "60000",
    });
    open.push(() => gateway.close());
    const first = get(`${gateway.url}/v1/orders`);
    await waitFor(() => replica.held.length === 1, { what: "the first request at the replica" });
    replica.held[0]?.write("{"); // its answer has begun and keeps the only connection
    expect(await first.answered).toBe(200);

    const second = get(`${gateway.url}/v1/orders`);
    const deadline = new Promise<string>((resolve) => {
      setTimeout(() => resolve("no answer within 5 s"), 5_000).unref();
    });

    expect(await Promise.race([second.answered, deadline])).toBe(504);
    expect(replica.held).toHaveLength(1);
  });
});
