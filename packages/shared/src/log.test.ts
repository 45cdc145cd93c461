import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { runWithContext } from "./context.ts";
import { createLogger, redactPii } from "./log.ts";
import { inSpan, startTelemetry } from "./telemetry.ts";

/** Captures the JSON lines a logger writes. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { lines, stream };
}

describe("logger", () => {
  it("puts the service, trace id and correlation id on every line and redacts personal data", async () => {
    const telemetry = startTelemetry({ service: "log-test" });
    const { lines, stream } = capture();
    const logger = createLogger({ service: "log-test", destination: stream });
    await runWithContext({ correlationId: "checkout-1" }, () =>
      inSpan("work", {}, async (span) => {
        logger.info({ email: "a@b.c", data: { phone: "+15555550100" } }, "handled");
        expect(lines[0]).toMatchObject({
          service: "log-test",
          correlationId: "checkout-1",
          traceId: span.spanContext().traceId,
          email: "[redacted]",
          data: { phone: "[redacted]" },
        });
      }),
    );
    await telemetry.shutdown();
  });
});

describe("redactPii", () => {
  it("masks emails and phone numbers quoted in error text", () => {
    expect(redactPii("550 5.1.1 <jane.doe@example.com>: rejected; call +4915112345678")).toBe(
      "550 5.1.1 <[email]>: rejected; call [phone]",
    );
  });

  it("masks them in a logged error's message", () => {
    const { lines, stream } = capture();
    const logger = createLogger({ service: "log-test", destination: stream });
    logger.error({ err: new Error("refused jane@example.com") }, "failed");
    expect(lines[0]).toMatchObject({ err: { message: "refused [email]" } });
  });
});
