import { Agent, request } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createRoute, z } from "@hono/zod-openapi";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "../log.ts";
import { createMetrics } from "../metrics.ts";
import { TEST_PG_URL } from "../testing/database.ts";
import { freePort } from "../testing/ports.ts";
import { createServiceApp, MAX_BODY_BYTES } from "./app.ts";

function testApp() {
  const logged: string[] = [];
  const logger = createLogger({
    service: "app-test",
    level: "warn",
    destination: { write: (line: string) => logged.push(line) },
  });
  const app = createServiceApp({
    service: "app-test",
    logger,
    metrics: createMetrics("app-test"),
    readiness: [],
  });
  app.openapi(
    createRoute({
      method: "post",
      path: "/things",
      request: {
        body: {
          required: true,
          content: {
            "application/json": {
              schema: z.object({ name: z.string().min(1), qty: z.number().int() }),
            },
          },
        },
      },
      responses: { 201: { description: "created" } },
    }),
    (c) => c.json(c.req.valid("json"), 201),
  );
  app.post("/echo-size", async (c) => c.json({ bytes: (await c.req.arrayBuffer()).byteLength }));
  app.post("/refuse-unread", (c) => c.json({ refused: true }, 403));
  app.get("/lookup/:name", async (c) => {
    const sql = postgres(TEST_PG_URL, { max: 1, onnotice: () => {} });
    try {
      return c.json(await sql`select ${c.req.param("name")}::text as name`);
    } finally {
      await sql.end();
    }
  });
  app.get("/database-away", async (c) => {
    // a real PostgreSQL client against a port nothing listens on: ECONNREFUSED
    const sql = postgres(`postgres://nobody@127.0.0.1:${await freePort()}/nothing`, {
      max: 1,
      onnotice: () => {},
    });
    try {
      return c.json(await sql`select 1`);
    } finally {
      await sql.end();
    }
  });
  app.get("/crash", () => {
    throw new Error(`database password rejected at ${import.meta.url}`);
  });
  return { app, logged };
}

async function expectProblem(res: Response, status: number, slug: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const problem = (await res.json()) as Record<string, unknown>;
  expect(problem).toMatchObject({ status, type: expect.stringMatching(new RegExp(`/${slug}$`)) });
  expect(typeof problem.title).toBe("string");
  return problem;
}

const post = (body: RequestInit["body"], headers: Record<string, string> = {}) =>
  ({ method: "POST", body, headers, duplex: "half" }) as RequestInit;

/** A body without Content-Length, sent in 64 KiB chunks until `total` bytes. */
function chunked(total: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= total) return controller.close();
      const chunk = new Uint8Array(Math.min(64 * 1024, total - sent));
      sent += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
}

describe("createServiceApp", () => {
  const { app, logged } = testApp();

  it("refuses a body over the limit by its Content-Length with 413 problem+json", async () => {
    const res = await app.request("/echo-size", post(new Uint8Array(MAX_BODY_BYTES + 1)));
    await expectProblem(res, 413, "payload-too-large");
  });

  it("refuses by a declared Content-Length alone, before any of the body is read", async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          pulled++;
          controller.enqueue(new Uint8Array(16));
          controller.close();
        },
      },
      { highWaterMark: 0 },
    );
    const declared = { "content-length": String(MAX_BODY_BYTES + 1) };
    const res = await app.request("/echo-size", post(body, declared));
    await expectProblem(res, 413, "payload-too-large");
    expect(res.headers.get("connection")).toBe("close");
    expect(pulled).toBe(0);
  });

  it("passes a body whose declared Content-Length is within the limit", async () => {
    const res = await app.request(
      "/echo-size",
      post(new Uint8Array(MAX_BODY_BYTES), { "content-length": String(MAX_BODY_BYTES) }),
    );
    expect(await res.json()).toEqual({ bytes: MAX_BODY_BYTES });
  });

  it("refuses a chunked body that grows over the limit with 413 problem+json", async () => {
    const res = await app.request("/echo-size", post(chunked(MAX_BODY_BYTES + 1)));
    await expectProblem(res, 413, "payload-too-large");
  });

  it("passes a chunked body of exactly the limit", async () => {
    const res = await app.request("/echo-size", post(chunked(MAX_BODY_BYTES)));
    expect(await res.json()).toEqual({ bytes: MAX_BODY_BYTES });
  });

  it("answers malformed JSON with 400 problem+json", async () => {
    const res = await app.request(
      "/things",
      post('{"name": "a",', { "content-type": "application/json" }),
    );
    await expectProblem(res, 400, "bad-request");
  });

  it.each([
    ["text/plain", '{"name":"a","qty":1}'],
    ["application/x-www-form-urlencoded", "name=a&qty=1"],
    ["no content type", '{"name":"a","qty":1}'],
  ])("answers a %s body where JSON is required with 415 problem+json", async (type, body) => {
    const headers: Record<string, string> =
      type === "no content type" ? {} : { "content-type": type };
    const res = await app.request("/things", post(body, headers));
    await expectProblem(res, 415, "unsupported-media-type");
  });

  it("names every invalid field in a validation problem", async () => {
    const res = await app.request(
      "/things",
      post(JSON.stringify({ name: "", qty: "2" }), { "content-type": "application/json" }),
    );
    const problem = await expectProblem(res, 400, "validation-failed");
    const paths = (problem.errors as Array<{ path: string }>).map((e) => e.path).sort();
    expect(paths).toEqual(["name", "qty"]);
  });

  it("answers a crash with a bare 500 problem: no message, stack or path, but logs it", async () => {
    const res = await app.request("/crash");
    const problem = await expectProblem(res, 500, "internal-error");
    const text = JSON.stringify(problem);
    expect(text).not.toMatch(/password|\.ts|file:|at \w|Error/);
    expect(logged.join("\n")).toMatch(/database password rejected/);
  });

  it("answers the database being away with 503 and Retry-After, so the client sends it again", async () => {
    const res = await app.request("/database-away");
    const problem = await expectProblem(res, 503, "service-unavailable");
    expect(res.headers.get("retry-after")).toBe("1");
    expect(JSON.stringify(problem)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/);
    expect(logged.join("\n")).toMatch(/answered 503/);
  });

  it("answers a value the database refuses as data (a NUL byte) with 400, not 500", async () => {
    const res = await app.request("/lookup/a%00b");
    const problem = await expectProblem(res, 400, "invalid-value");
    expect(JSON.stringify(problem)).not.toMatch(/0x00|UTF8|byte sequence/);
    expect((await app.request("/lookup/ab")).status).toBe(200);
  });

  it("answers an unknown route with 404 problem+json", async () => {
    await expectProblem(await app.request("/nowhere"), 404, "not-found");
  });
});

/** POSTs over one keep-alive socket, so a request sees what the one before left on it. */
function postOn(agent: Agent, url: string, body: Uint8Array) {
  return new Promise<{ status: number; socketReused: boolean }>((resolve, reject) => {
    const req = request(url, { method: "POST", agent, headers: { "content-length": body.length } });
    req.once("response", (res) => {
      res.resume();
      res.once("end", () =>
        resolve({ status: res.statusCode ?? 0, socketReused: req.reusedSocket }),
      );
    });
    req.once("error", reject);
    req.end(body);
  });
}

describe("a keep-alive connection after a route left the request body unread", async () => {
  const { app } = testApp();
  const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 });
  await new Promise((resolve) => server.once("listening", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  afterAll(async () => {
    agent.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it("carries the next request: the unread body was drained, not left to stall the socket", async () => {
    const large = new Uint8Array(512 * 1024);
    expect(await postOn(agent, `${base}/refuse-unread`, large)).toMatchObject({ status: 403 });
    for (let i = 0; i < 3; i++) {
      expect(await postOn(agent, `${base}/echo-size`, new Uint8Array(10))).toEqual({
        status: 200,
        socketReused: true,
      });
      expect(await postOn(agent, `${base}/refuse-unread`, large)).toEqual({
        status: 403,
        socketReused: true,
      });
    }
  });
});
