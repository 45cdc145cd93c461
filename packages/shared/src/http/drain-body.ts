import type { MiddlewareHandler } from "hono";
import { declaredBody } from "./body-limit.ts";

/**
 * Reads to the end whatever request body the route left unread (a 401 before the body, a 404
 * for a POST), before the answer goes out. @hono/node-server tries to drain such a body after
 * responding, but once `Request.body` was touched its web stream pauses the socket again, the
 * drain times out and the keep-alive connection is destroyed — and the next request a client or
 * the gateway sends on it fails (found by test/security/fuzz). An answer with
 * `Connection: close` (a body over the limit) ends the connection anyway: its body is not read.
 * Nor is one the route read, or a request without one, and those are told apart before
 * `Request.body` is touched: that getter alone builds a web Request and stream in
 * @hono/node-server (see limitRequestBody).
 *
 * @example app.use("*", drainUnreadBody())
 */
export function drainUnreadBody(): MiddlewareHandler {
  return async function drainUnreadRequestBody(c, next) {
    await next();
    if (c.req.raw.bodyUsed || c.res.headers.get("connection") === "close") return;
    const declared = declaredBody(c);
    if (declared.kind === "none" || (declared.kind === "length" && declared.bytes === 0)) return;
    const body = c.req.raw.body;
    if (!body || body.locked) return;
    const reader = body.getReader();
    for (;;) {
      const { done } = await reader.read().catch(() => ({ done: true })); // the client went away: nothing left to drain
      if (done) return;
    }
  };
}
