import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { signToken } from "@codflow/shared/testing";
import fc from "fast-check";
import { SignJWT, UnsecuredJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServiceName, type Stack, startStack } from "../support/stack.ts";
import {
  bodyFor,
  contentType,
  type FuzzBody,
  idempotencyKey,
  type OpenApi,
  type Operation,
  operationsOf,
  pathValue,
  preferHeader,
  queryFor,
} from "./fuzz-requests.ts";

/**
 * Random and hostile requests at every operation of the gateway's merged OpenAPI document:
 * never a 5xx, every 4xx a well-formed problem+json, no stack trace or internal path in any
 * answer. FUZZ_RUNS (default 3000) is the total over all operations; FUZZ_SEED replays a run.
 */
const TOTAL_RUNS = Number(process.env.FUZZ_RUNS ?? 3000);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
/** Operations fuzzed at once, one request in flight each. */
const CONCURRENCY = 4;
const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");
const LEAKS = [
  /\n\s+at [^\n]+:\d+/, // a stack frame
  /\.(ts|js|mjs|cjs):\d+/,
  /node_modules/,
  /file:\/\//,
  new RegExp(REPO_ROOT.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")),
];

let stack: Stack;
let operations: Operation[];
/** Authorization headers for an operation: mostly its own role's token, else others and junk. */
let authorizationsFor: (op: Operation) => fc.Arbitrary<string | undefined>;

beforeAll(async () => {
  stack = await startStack({ env: { LOG_LEVEL: "warn" } });
  const doc = (await (await fetch(`${stack.gatewayUrl}/openapi.json`)).json()) as OpenApi;
  operations = operationsOf(doc);

  const bearer = (token: string) => `Bearer ${token}`;
  const now = Math.floor(Date.now() / 1000);
  const [customer, admin, courier, expired, wrongSecret] = await Promise.all([
    signToken({ sub: `fuzz-customer-${randomUUID()}`, role: "customer" }),
    signToken({ sub: "fuzz-admin", role: "admin" }),
    signToken({ sub: "fuzz-courier", role: "courier" }),
    new SignJWT({ role: "admin" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("fuzz")
      .setExpirationTime(now - 3600)
      .sign(new TextEncoder().encode("dev-only-insecure-jwt-secret")),
    signToken({ sub: "fuzz", role: "admin" }, "some-other-secret-of-enough-length"),
  ]);
  const tokens = { customer, admin, courier };
  const hostile = fc.constantFrom(
    bearer(new UnsecuredJWT({ role: "admin" }).setSubject("fuzz").encode()),
    bearer(expired),
    bearer(wrongSecret),
    bearer("garbage"),
    bearer("a.b.c"),
    bearer(`${"x".repeat(4000)}.${"y".repeat(2000)}.z`),
    "Bearer",
    "Bearer  ",
    "Basic Zm9vOmJhcg==",
    `bearer ${customer} extra`,
    "null",
  );
  authorizationsFor = (op) => {
    const own = op.path.startsWith("/v1/admin/") ? admin : customer;
    return fc.oneof(
      { weight: 8, arbitrary: fc.constant(bearer(own)) },
      { weight: 2, arbitrary: fc.constantFrom(...Object.values(tokens)).map(bearer) },
      { weight: 2, arbitrary: hostile },
      { weight: 1, arbitrary: fc.constant(undefined) },
    );
  };
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

interface FuzzRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: FuzzBody;
}

function requestsFor(op: Operation): fc.Arbitrary<FuzzRequest> {
  const params = op.path.match(/\{[^}]+\}/g) ?? [];
  return fc
    .record({
      values: fc.tuple(...params.map(() => pathValue)),
      query: queryFor(op),
      authorization: authorizationsFor(op),
      contentType,
      prefer: preferHeader,
      idempotencyKey,
      // now and then a method the route does not have
      method: fc.oneof(
        { weight: 12, arbitrary: fc.constant(op.method) },
        {
          weight: 1,
          arbitrary: fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"),
        },
      ),
      body: bodyFor(op),
    })
    .map(({ values, query, method, body, ...headers }) => {
      let index = 0;
      const path = op.path.replace(/\{[^}]+\}/g, () => values[index++] as string);
      return {
        url: `${stack.gatewayUrl}${path}${query}`,
        method,
        headers: Object.fromEntries(
          Object.entries({
            authorization: headers.authorization,
            "content-type": headers.contentType,
            prefer: headers.prefer,
            "idempotency-key": headers.idempotencyKey,
          }).filter((entry): entry is [string, string] => entry[1] !== undefined),
        ),
        ...(body && method !== "GET" ? { body } : {}),
      };
    });
}

/** What came back, with the body read in full (an event stream is cancelled after its headers). */
async function send(request: FuzzRequest) {
  const res = await fetch(request.url, {
    method: request.method,
    headers: request.headers,
    body: request.body?.text,
    signal: AbortSignal.timeout(20_000),
  });
  const type = res.headers.get("content-type") ?? "";
  if (type.startsWith("text/event-stream")) {
    await res.body?.cancel();
    return { status: res.status, type, text: "" };
  }
  return { status: res.status, type, text: await res.text() };
}

function describeRequest({ url, method, headers, body }: FuzzRequest) {
  const short = (s: string) => (s.length > 300 ? `${s.slice(0, 300)}… (${s.length} chars)` : s);
  return `${method} ${short(url)} ${JSON.stringify(headers, (_, v) => (typeof v === "string" ? short(v) : v))} body(${body?.label ?? "none"}): ${short(body?.text ?? "")}`;
}

function checkAnswer(request: FuzzRequest, answer: Awaited<ReturnType<typeof send>>) {
  const where = `${describeRequest(request)}\n→ ${answer.status} ${answer.type} ${answer.text.slice(0, 500)}`;
  expect(answer.status, where).toBeLessThan(500);
  for (const leak of LEAKS) expect(answer.text, where).not.toMatch(leak);
  if (answer.status < 400) return;
  expect(answer.type, where).toBe("application/problem+json");
  const problem = JSON.parse(answer.text);
  expect(problem, where).toMatchObject({
    type: expect.stringMatching(/^https:\/\/codflow\.dev\/problems\/[a-z0-9-]+$/),
    title: expect.any(String),
    status: answer.status,
  });
}

describe("fuzzing every route through the gateway", () => {
  it("finds operations of every service in the merged OpenAPI document", () => {
    const paths = operations.map((o) => o.path);
    for (const prefix of [
      "/v1/cart",
      "/v1/checkouts",
      "/v1/orders",
      "/v1/admin/catalog",
      "/v1/products",
    ]) {
      expect(
        paths.some((p) => p.startsWith(prefix)),
        prefix,
      ).toBe(true);
    }
  });

  it(
    "never answers 5xx, always problem+json for 4xx, and never leaks a stack trace or a path",
    async () => {
      const runsPerOperation = Math.max(1, Math.ceil(TOTAL_RUNS / operations.length));
      const queue = [...operations];
      const fuzzOperations = async () => {
        for (let op = queue.shift(); op; op = queue.shift()) {
          await fc.assert(
            fc.asyncProperty(requestsFor(op), async (request) => {
              checkAnswer(request, await send(request));
            }),
            {
              numRuns: runsPerOperation,
              endOnFailure: true,
              ...(SEED === undefined ? {} : { seed: SEED }),
            },
          );
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, fuzzOperations));
    },
    10 * 60_000,
  );
});

describe("body limits on every process", () => {
  const LIMIT = 1024 * 1024;
  const chunked = (total: number) => {
    let sent = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= total) return controller.close();
        const chunk = new Uint8Array(Math.min(64 * 1024, total - sent));
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
  };
  const targets: Array<[ServiceName, string]> = [
    ["gateway", "/v1/cart/lines"],
    ["checkout", "/v1/cart/lines"],
    ["inventory", "/v1/admin/catalog/vendors"],
    ["orders", "/v1/orders/00000000-0000-0000-0000-000000000000/cancel"],
    ["notifier", "/healthz"],
  ];

  it.each(targets)(
    "%s answers a body over 1 MiB with 413 problem+json, with or without Content-Length",
    async (service, path) => {
      for (const body of [new Uint8Array(LIMIT + 1), chunked(LIMIT + 1)]) {
        const res = await fetch(`${stack.url(service)}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
          duplex: "half",
        } as RequestInit);
        expect(res.status).toBe(413);
        expect(res.headers.get("content-type")).toBe("application/problem+json");
        expect(await res.json()).toMatchObject({
          status: 413,
          type: expect.stringMatching(/\/payload-too-large$/),
        });
      }
    },
  );
});
