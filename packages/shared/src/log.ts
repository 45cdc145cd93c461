import { trace } from "@opentelemetry/api";
import { type Logger, pino } from "pino";
import { currentContext } from "./context.ts";

export type { Logger };

/** Paths that may hold personal data; pino replaces them before a line is written. */
const PII_PATHS = [
  "email",
  "phone",
  "shippingAddress",
  "*.email",
  "*.phone",
  "*.shippingAddress",
  "*.customerEmail",
  "req.headers.authorization",
];

/**
 * JSON logs with the service name, the active trace id and the correlation (checkout) id on
 * every line. Example: `createLogger({ service: "orders", level: "info" }).info("started")`.
 */
export function createLogger({
  service,
  level = "info",
  destination,
}: {
  service: string;
  level?: string;
  destination?: pino.DestinationStream;
}) {
  const options: pino.LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: PII_PATHS, censor: "[redacted]" },
    formatters: { level: (label) => ({ level: label }) },
    mixin() {
      const span = trace.getActiveSpan()?.spanContext();
      const { correlationId } = currentContext();
      return {
        ...(span ? { traceId: span.traceId, spanId: span.spanId } : {}),
        ...(correlationId ? { correlationId } : {}),
      };
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
