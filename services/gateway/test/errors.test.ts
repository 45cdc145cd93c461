import { Agent, request } from "node:http";
import { waitFor } from "@codflow/shared/testing";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningGateway } from "../src/server.ts";
import {
  gate,
  type RunningServer,
  startServer,
  startTestGateway,
  unreachableUrl,
} from "./helpers.ts";

const TIMEOUT_MS = 300;
const LIMIT = 1024 * 1024;

async function expectProblem(res: Response, status: number, slug: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const problem = (await res.json()) as Record<string, unknown>;
  expect(Object.keys(problem).sort()).toEqual(["detail", "status", "title", "type"]);
  expect(problem.status).toBe(status);
  expect(String(problem.type)).toMatch(new RegExp(`/${slug}$`));
  return problem;
}

describe("gateway failures", () => {
  const hung = gate();
  let hungRequests = 0;
  let receivedBytes = 0;
  let upstream: RunningServer;
  let gateway: RunningGateway;

  beforeAll(async () => {
    const app = new Hono();
    app.get("/v1/orders/hang", async (c) => {
      hungRequests++;
      await hung.opened;
      return c.text("too late");
    });
    app.post("/v1/orders/upload", async (c) => {
      const body = await c.req.arrayBuffer();
      receivedBytes = body.byteLength;
      return c.json({ bytes: body.byteLength });
    });
    upstream = await startServer(app);
    gateway = await startTestGateway({
      ORDERS_URL: upstream.url,
      CHECKOUT_URL: await unreachableUrl(),
      UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS),
    });
  });

  afterAll(async () => {
    hung.open();
    await gateway?.close();
    await upstream?.close();
  });

  it("answers 502 problem+json when the service cannot be reached", async () => {
    const problem = await expectProblem(await fetch(`${gateway.url}/v1/cart`), 502, "bad-gateway");
    expect(problem.detail).toMatch(/checkout/);
  });

  it("answers 502 for a request with a body too, without retrying it", async () => {
    const res = await fetch(`${gateway.url}/v1/checkouts`, { method: "POST", body: "{}" });
    await expectProblem(res, 502, "bad-gateway");
  });

  it("answers 504 problem+json when the service sends no headers in time", async () => {
    const res = await fetch(`${gateway.url}/v1/orders/hang`);
    await expectProblem(res, 504, "gateway-timeout");
    expect(hungRequests).toBe(1);
  });

  it("refuses a body over 1 MiB with 413 problem+json, declared by Content-Length", async () => {
    const res = await fetch(`${gateway.url}/v1/orders/upload`, {
      method: "POST",
      body: new Uint8Array(LIMIT + 1),
    });
    await expectProblem(res, 413, "payload-too-large");
  });

  it("refuses a chunked body that grows over 1 MiB with 413", async () => {
    const chunk = new Uint8Array(64 * 1024);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > LIMIT) return controller.close();
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const res = await fetch(`${gateway.url}/v1/orders/upload`, {
      method: "POST",
      body,
      duplex: "half",
    } as RequestInit);
    await expectProblem(res, 413, "payload-too-large");
  });

  it("keeps a connection usable after answering a request whose body it never read", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const post = (path: string, size: number) =>
      new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
        const req = request(`${gateway.url}${path}`, {
          method: "POST",
          agent,
          headers: { "content-length": size },
        });
        req.once("response", (res) => {
          res.resume();
          res.once("end", () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
        });
        req.once("error", reject);
        req.end(new Uint8Array(size));
      });
    try {
      // an unrouted path is refused before the body is read
      expect(await post("/v1/nowhere", 512 * 1024)).toMatchObject({ status: 404 });
      expect(await post("/v1/orders/upload", 10)).toEqual({ status: 200, reused: true });
    } finally {
      agent.destroy();
    }
  });

  it("passes a body of exactly 1 MiB", async () => {
    const res = await fetch(`${gateway.url}/v1/orders/upload`, {
      method: "POST",
      body: new Uint8Array(LIMIT),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ bytes: LIMIT });
    await waitFor(() => receivedBytes === LIMIT, { what: "the upstream to count the body" });
  });
});
