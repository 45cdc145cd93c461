import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { injectTraceContext, inSpan } from "../telemetry.ts";
import { captureSpans } from "../testing/spans.ts";
import { httpTracing } from "./tracing.ts";

let spans: ReturnType<typeof captureSpans>;
beforeAll(() => {
  spans = captureSpans("tracing-test");
});
afterAll(() => spans.stop());

function tracedApp() {
  const app = new Hono();
  app.use("*", httpTracing("tracing-test"));
  app.get("/items/:id", (c) => c.json({ id: c.req.param("id") }));
  app.get("/broken", () => {
    throw new Error("the handler failed");
  });
  app.onError((_, c) => c.json({ failed: true }, 500));
  return app;
}

describe("httpTracing", () => {
  it("continues the caller's trace in a server span named after the route", async () => {
    const app = tracedApp();
    const caller = await inSpan("storefront", { kind: SpanKind.CLIENT }, async (span) => {
      const res = await app.request("/items/42?q=x", { headers: injectTraceContext() });
      expect(res.status).toBe(200);
      return span.spanContext();
    });
    const server = spans.finished().find((s) => s.name === "GET /items/:id");
    expect(server?.kind).toBe(SpanKind.SERVER);
    expect(server?.spanContext().traceId).toBe(caller.traceId);
    expect(server?.parentSpanContext?.spanId).toBe(caller.spanId);
    expect(server?.attributes).toMatchObject({
      "http.request.method": "GET",
      "http.route": "/items/:id",
      "http.response.status_code": 200,
      "url.full": "http://localhost/items/42?q=x",
      "service.name": "tracing-test",
    });
    expect(server?.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  it("starts a trace of its own without a traceparent, and marks a failed request as an error", async () => {
    const res = await tracedApp().request("/broken");
    expect(res.status).toBe(500);
    const server = spans.finished().find((s) => s.name === "GET /broken");
    expect(server?.parentSpanContext).toBeUndefined();
    expect(server?.attributes["http.response.status_code"]).toBe(500);
    expect(server?.status.code).toBe(SpanStatusCode.ERROR);
    expect(server?.events.map((e) => e.name)).toContain("exception");
  });
});
