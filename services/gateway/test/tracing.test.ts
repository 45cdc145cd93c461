import { injectTraceContext, inSpan, SpanKind } from "@codflow/shared";
import { captureSpans, waitFor } from "@codflow/shared/testing";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningGateway } from "../src/server.ts";
import { type RunningServer, startServer, startTestGateway } from "./helpers.ts";

let spans: ReturnType<typeof captureSpans>;
let upstream: RunningServer;
let gateway: RunningGateway;
const received: (string | null)[] = [];

beforeAll(async () => {
  spans = captureSpans("gateway-test");
  const app = new Hono();
  app.all("*", (c) => {
    received.push(c.req.header("traceparent") ?? null);
    return c.json({ ok: true });
  });
  upstream = await startServer(app);
  gateway = await startTestGateway({
    CHECKOUT_URL: upstream.url,
    INVENTORY_URL: upstream.url,
    ORDERS_URL: upstream.url,
  });
});
afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
  await spans?.stop();
});

const traceIdOf = (traceparent: string | null | undefined) => traceparent?.split("-")[1];
const parentIdOf = (traceparent: string | null | undefined) => traceparent?.split("-")[2];

describe("gateway tracing", () => {
  it("continues the caller's trace in its own server span and passes that span on to the service", async () => {
    const { traceId } = await inSpan("storefront", { kind: SpanKind.CLIENT }, async (span) => {
      const res = await fetch(`${gateway.url}/v1/cart`, { headers: injectTraceContext() });
      expect(res.status).toBe(200);
      return span.spanContext();
    });

    const forwarded = received.at(-1);
    expect(traceIdOf(forwarded)).toBe(traceId);
    const server = await waitFor(
      () => spans.finished().find((s) => s.name === "GET proxy checkout"),
      { what: "the gateway's server span" },
    );
    expect(server.spanContext().traceId).toBe(traceId);
    expect(parentIdOf(forwarded)).toBe(server.spanContext().spanId);
  });

  it("starts a trace for a caller that sends none", async () => {
    await fetch(`${gateway.url}/v1/orders`);
    const forwarded = received.at(-1);
    expect(forwarded).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });
});
