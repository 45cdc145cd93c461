import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { inSpan, startServerSpan, startTelemetry } from "./telemetry.ts";

const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const traceparent = (flags: "00" | "01") => `00-${TRACE_ID}-b7ad6b7169203331-${flags}`;

describe("telemetry without an exporter", () => {
  let telemetry: ReturnType<typeof startTelemetry>;
  beforeEach(() => {
    telemetry = startTelemetry({ service: "telemetry-test" });
  });
  afterEach(() => telemetry.shutdown());

  it("records none of the traces it starts, yet gives them trace ids", async () => {
    await inSpan("work", {}, async (span) => {
      expect(span.isRecording()).toBe(false);
      expect(span.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(span.spanContext().traceId).not.toBe("0".repeat(32));
    });
  });

  it("as a proxy, forwards no trace of its own, and keeps a caller's sampling decision", () => {
    const own = startServerSpan("GET proxy", {}, {});
    expect(own.traceHeaders).toEqual({});
    own.end(200);

    const sampled = startServerSpan("GET proxy", { traceparent: traceparent("01") }, {});
    expect(sampled.span.isRecording()).toBe(true);
    expect(sampled.traceHeaders.traceparent).toMatch(
      new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`),
    );
    sampled.end(200);

    const unsampled = startServerSpan("GET proxy", { traceparent: traceparent("00") }, {});
    expect(unsampled.traceHeaders.traceparent).toMatch(
      new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-00$`),
    );
    unsampled.end(200);
  });
});
