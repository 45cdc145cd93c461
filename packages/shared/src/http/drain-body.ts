import type { MiddlewareHandler } from "hono";

/**
 * Reads to the end whatever request body the route left unread (a 401 before the body, a 404
 * for a POST), before the answer goes out. @hono/node-server tries to drain such a body after
 * responding, but once `Request.body` was touched (the body limit does) its web stream pauses
 * the socket again, the drain times out and the keep-alive connection is destroyed — and the
 * next request a client or the gateway sends on it fails (found by test/security/fuzz).
 * Bodies over the limit never get here: they are refused with `Connection: close`.
 *
 * @example app.use("*", drainUnreadBody())
 */
export function drainUnreadBody(): MiddlewareHandler {
  return async function drainUnreadRequestBody(c, next) {
    await next();
    const body = c.req.raw.body;
    if (!body || c.req.raw.bodyUsed || body.locked) return;
    const reader = body.getReader();
    for (;;) {
      const { done } = await reader.read().catch(() => ({ done: true })); // the client went away: nothing left to drain
      if (done) return;
    }
  };
}
