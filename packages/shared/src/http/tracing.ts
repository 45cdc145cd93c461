import { httpInstrumentationMiddleware } from "@hono/otel";
import type { Context, MiddlewareHandler } from "hono";

/**
 * A SERVER span per request, named `<METHOD> <route>` (e.g. `POST /v1/checkouts`), continuing
 * the caller's `traceparent`; handlers, transactions and appended events run inside it.
 */
export function httpTracing(
  service: string,
  { spanName }: { spanName?: (c: Context) => string } = {},
): MiddlewareHandler {
  return httpInstrumentationMiddleware({
    serviceName: service,
    captureActiveRequests: false,
    ...(spanName ? { spanNameFactory: spanName } : {}),
  }) as unknown as MiddlewareHandler;
}
