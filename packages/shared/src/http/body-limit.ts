import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HttpProblem } from "./problem.ts";

/**
 * 413 for a body over `limitBytes`, with `Connection: close`: the rest of the body is never
 * read, so the connection cannot carry another request.
 */
export function payloadTooLarge(limitBytes: number): HttpProblem {
  return new HttpProblem(
    413,
    "payload-too-large",
    "Payload Too Large",
    `request bodies are limited to ${limitBytes} bytes`,
    undefined,
    { connection: "close" },
  );
}

/**
 * What the request's headers say of its body, read without touching `c.req.raw.body`:
 * `none` (a GET or HEAD that declares no length and no transfer coding: HTTP/1.1 frames no body
 * there), a declared byte `length`, or `unknown` (chunked, or a request built in memory).
 */
export function declaredBody(
  c: Context,
): { kind: "none" } | { kind: "length"; bytes: number } | { kind: "unknown" } {
  if (c.req.header("transfer-encoding") !== undefined) return { kind: "unknown" };
  const length = c.req.header("content-length");
  if (length === undefined) {
    return c.req.method === "GET" || c.req.method === "HEAD"
      ? { kind: "none" }
      : { kind: "unknown" };
  }
  const bytes = Number(length);
  return Number.isSafeInteger(bytes) && bytes >= 0
    ? { kind: "length", bytes }
    : { kind: "unknown" };
}

/**
 * hono's bodyLimit, without its cost on the requests that declare their size. It begins with
 * `c.req.raw.body`, which makes @hono/node-server build a whole web Request and a ReadableStream
 * over the socket for every request (and then parse JSON through that stream instead of its
 * direct read): in checkout at 250 checkouts/s, undici's Request and Headers and the web streams
 * were ~13 % of the bytes the process allocated. A declared Content-Length (without a transfer
 * coding) is compared here, as hono would compare it; a GET or HEAD without either has no body;
 * anything else (chunked) goes through hono's, which counts the bytes as they stream. A body over
 * the limit is refused with payloadTooLarge.
 *
 * @example app.use("*", limitRequestBody(1024 * 1024))
 */
export function limitRequestBody(maxSize: number): MiddlewareHandler {
  const onError = () => {
    throw payloadTooLarge(maxSize);
  };
  const streamed = bodyLimit({ maxSize, onError });
  return async function limitBody(c, next) {
    const body = declaredBody(c);
    if (body.kind === "none") return next();
    if (body.kind === "length") return body.bytes > maxSize ? onError() : next();
    return streamed(c, next);
  };
}
