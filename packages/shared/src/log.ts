import { trace } from "@opentelemetry/api";
import { type Logger, pino } from "pino";
import { currentContext } from "./context.ts";

export type { Logger };

/** Paths that may hold personal data; pino replaces them before a line is written. */
const PII_PATHS = [
  "email",
  "phone",
  "shippingAddress",
  "customerEmail",
  "recipient",
  "otp",
  "*.email",
  "*.phone",
  "*.shippingAddress",
  "*.customerEmail",
  "*.recipient",
  "*.otp",
  // an event logged whole ({ event }, { envelope }) carries its personal data one level deeper
  "*.data.phone",
  "*.data.customerEmail",
  "*.data.shippingAddress",
  // a phone verification code: in checkout.phone_verification_requested's data and the confirm
  // body (`*.code` alone would also hide error codes such as ECONNREFUSED)
  "code",
  "data.code",
  "*.data.code",
  "body.code",
  "*.body.code",
  "req.headers.authorization",
];

const EMAIL = /[^\s<>"'(),;:@]+@[^\s<>"'(),;:@]+\.[a-z]{2,}/gi;
const PHONE = /\+[1-9]\d{6,14}\b/g;

/**
 * Masks email addresses and E.164 phone numbers in free text (error messages quoting a
 * recipient or a rejected row). Example: `redactPii("550 <a@b.io> rejected")` →
 * `"550 <[email]> rejected"`.
 */
export function redactPii(text: string): string {
  return text.replace(EMAIL, "[email]").replace(PHONE, "[phone]");
}

/** pino's error serializer, with personal data masked in the message, stack and detail. */
function errSerializer(err: unknown) {
  const out = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
  for (const key of ["message", "stack", "detail"]) {
    if (typeof out[key] === "string") out[key] = redactPii(out[key] as string);
  }
  return out;
}

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
    serializers: { err: errSerializer },
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
