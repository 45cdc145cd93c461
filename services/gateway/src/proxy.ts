import { HttpProblem, injectTraceContext, type Logger } from "@codflow/shared";
import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context, Handler } from "hono";
import { proxy } from "hono/proxy";
import { describeError } from "./errors.ts";
import { type UpstreamPools, upstreamForPath } from "./routes.ts";

export interface ProxyOptions {
  pools: UpstreamPools;
  /** Until the upstream's response headers arrive; a body still streaming (SSE) is never cut. */
  timeoutMs: number;
  logger: Logger;
}

class UpstreamTimeout extends Error {
  override name = "UpstreamTimeout";
}

/**
 * Forwards the request (method, headers, body) to a replica of the service that owns its path
 * prefix and streams the answer back unbuffered. A request without a body is tried on the next
 * replica when one cannot be reached; a request with a body is sent once, because its stream
 * cannot be replayed. An unrouted path (404), an unreachable (502) or slow (504) service is
 * thrown as an HttpProblem for the app's error handler.
 *
 * @example app.all("*", proxyToServices({ pools, timeoutMs: 15_000, logger }))
 */
export function proxyToServices({ pools, timeoutMs, logger }: ProxyOptions): Handler {
  return async function proxyToService(c) {
    const upstream = upstreamForPath(c.req.path);
    if (!upstream) {
      throw new HttpProblem(404, "not-found", "Not Found", `no route for ${c.req.path}`);
    }
    const started = performance.now();
    const replicas = pools[upstream].rotation();
    const attempts = c.req.raw.body === null ? replicas : replicas.slice(0, 1);
    const log = logger.child({ method: c.req.method, path: c.req.path, upstream });

    let lastError: unknown;
    for (const base of attempts) {
      const target = base + c.req.path + new URL(c.req.url).search;
      const outcome = await forward(c, target, timeoutMs);
      if (outcome instanceof Response) {
        // the query string stays out of the logs (it may carry a customer's search terms)
        log.info(
          { target: base + c.req.path, status: outcome.status, ms: elapsed(started) },
          "proxied",
        );
        return outcome;
      }
      lastError = outcome;
      log.warn(
        { target: base + c.req.path, err: describeError(outcome), ms: elapsed(started) },
        "upstream failed",
      );
      if (outcome instanceof UpstreamTimeout || c.req.raw.signal.aborted) break;
    }
    if (lastError instanceof UpstreamTimeout) {
      throw new HttpProblem(
        504,
        "gateway-timeout",
        "Gateway Timeout",
        `${upstream} did not answer within ${timeoutMs} ms`,
      );
    }
    throw new HttpProblem(
      502,
      "bad-gateway",
      "Bad Gateway",
      `${upstream} could not be reached: ${describeError(lastError)}`,
    );
  };
}

/**
 * The upstream's response, or the error that prevented one. The client leaving aborts the
 * upstream request only until its headers arrive; after that @hono/node-server cancels the body
 * it is copying, which closes the upstream stream without an error to report.
 */
async function forward(c: Context, target: string, timeoutMs: number): Promise<Response | Error> {
  const upstream = new AbortController();
  const timer = setTimeout(() => upstream.abort(new UpstreamTimeout()), timeoutMs);
  const client = c.req.raw.signal;
  const onClientGone = () => upstream.abort(client.reason);
  client.addEventListener("abort", onClientGone, { once: true });
  const headers = new Headers(c.req.raw.headers);
  const url = new URL(c.req.url);
  headers.set("x-forwarded-host", c.req.header("host") ?? url.host);
  headers.set("x-forwarded-proto", url.protocol.replace(":", ""));
  // Services rate-limit per client IP by the LAST entry: the one this gateway saw on its socket
  // (earlier entries are whatever the client claimed).
  const clientAddress = getConnInfo(c).remote.address;
  if (clientAddress) {
    const claimed = c.req.header("x-forwarded-for");
    headers.set("x-forwarded-for", claimed ? `${claimed}, ${clientAddress}` : clientAddress);
  }
  // the upstream's span is a child of the gateway's (which continues the caller's trace)
  headers.delete("traceparent");
  headers.delete("tracestate");
  for (const [key, value] of Object.entries(injectTraceContext())) headers.set(key, value);
  try {
    if (client.aborted) return new Error("client went away");
    return await proxy(target, { raw: c.req.raw, headers, signal: upstream.signal });
  } catch (error) {
    if (upstream.signal.reason instanceof UpstreamTimeout) return upstream.signal.reason;
    return error instanceof Error ? error : new Error(String(error));
  } finally {
    clearTimeout(timer);
    client.removeEventListener("abort", onClientGone);
  }
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
