import { Writable } from "node:stream";
import { createLogger } from "@codflow/shared";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningGateway } from "../src/server.ts";
import { type RunningServer, startServer, startTestGateway } from "./helpers.ts";

const lines: Record<string, unknown>[] = [];
let upstream: RunningServer;
let gateway: RunningGateway;

beforeAll(async () => {
  const app = new Hono();
  app.all("*", (c) => c.json({ ok: true }));
  upstream = await startServer(app);
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  gateway = await startTestGateway(
    { CHECKOUT_URL: upstream.url, INVENTORY_URL: upstream.url, ORDERS_URL: upstream.url },
    { logger: createLogger({ service: "gateway-test", level: "info", destination }) },
  );
});
afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

describe("the gateway's access log", () => {
  it("writes one line per proxied request, with no query string and no credentials", async () => {
    const res = await fetch(`${gateway.url}/v1/cart?email=someone@example.com`, {
      headers: { authorization: "Bearer secret-token-value" },
    });
    expect(res.status).toBe(200);
    const proxied = lines.filter((line) => line.msg === "proxied");
    expect(proxied).toHaveLength(1);
    expect(proxied[0]).toMatchObject({
      level: "info",
      service: "gateway-test",
      method: "GET",
      path: "/v1/cart",
      upstream: "checkout",
      status: 200,
      ms: expect.any(Number),
      traceId: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    const written = JSON.stringify(lines);
    expect(written).not.toContain("someone@example.com");
    expect(written).not.toContain("secret-token-value");
  });
});
