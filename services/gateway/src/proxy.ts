import {
  type ClientRequest,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { HttpProblem, type Logger, startServerSpan } from "@codflow/shared";
import { describeError } from "./errors.ts";
import type { ProxiedRoute, UpstreamPools } from "./routes.ts";

export interface UpstreamProxyOptions {
  pools: UpstreamPools;
  /** Until the upstream's response headers arrive; a body still streaming (SSE) is never cut. */
  timeoutMs: number;
  bodyLimitBytes: number;
  /** Connections kept to each replica at most; requests beyond wait for one to come free. */
  maxSocketsPerReplica: number;
  logger: Logger;
}

export interface UpstreamProxy {
  forward(req: IncomingMessage, res: ServerResponse, route: ProxiedRoute): void;
  /** Closes the pooled upstream connections. */
  close(): void;
}

/** One replica's address, parsed once. */
interface Replica {
  base: string;
  host: string;
  hostname: string;
  port: number;
  basePath: string;
  request: typeof httpRequest;
  agent: HttpAgent;
}

class UpstreamTimeout extends Error {
  override name = "UpstreamTimeout";
}

/**
 * Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus those the proxy
 * sets itself. Transfer-Encoding stays: Node re-frames the body it forwards by it.
 */
const OWN_REQUEST_HEADERS = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "te",
  "trailer",
  "upgrade",
  "expect",
  "host",
  "traceparent",
  "tracestate",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
]);
const OWN_RESPONSE_HEADERS = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);
/** Methods that may go to the next replica when one fails mid-request. */
const REPLAYABLE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Forwards a request to a replica of the service that owns its path prefix with node:http, the
 * body streamed both ways as it comes (SSE included), over keep-alive connections pooled per
 * replica. Replicas take turns; a request without a body goes on to the next replica when one
 * cannot be reached (a GET/HEAD/OPTIONS also when one fails before answering), a request with a
 * body is sent once, since its stream cannot be replayed. Answers problem+json itself: 502 when
 * no replica answered, 504 when none sent headers within the timeout, 413 for a body over the
 * limit (declared or counted as it streams) with `Connection: close`.
 *
 * This path once went through Hono's fetch-based proxy; at 200 checkouts/s that made the gateway
 * the busiest process (undici, web streams and their GC: several ms of CPU per request).
 *
 * @example proxy.forward(req, res, routeRequest(req.url))
 */
export function createUpstreamProxy({
  pools,
  timeoutMs,
  bodyLimitBytes,
  maxSocketsPerReplica,
  logger,
}: UpstreamProxyOptions): UpstreamProxy {
  const agentOptions = {
    keepAlive: true,
    maxSockets: maxSocketsPerReplica,
    maxFreeSockets: maxSocketsPerReplica,
  };
  const httpAgent = new HttpAgent(agentOptions);
  const httpsAgent = new HttpsAgent(agentOptions);
  const replicas = new Map<string, Replica>();
  for (const pool of Object.values(pools)) {
    for (const base of pool.urls) {
      const url = new URL(base);
      const secure = url.protocol === "https:";
      replicas.set(base, {
        base,
        host: url.host,
        hostname: url.hostname.replace(/^\[|\]$/g, ""),
        port: Number(url.port) || (secure ? 443 : 80),
        basePath: url.pathname.replace(/\/$/, ""),
        request: secure ? httpsRequest : httpRequest,
        agent: secure ? httpsAgent : httpAgent,
      });
    }
  }

  function forward(req: IncomingMessage, res: ServerResponse, route: ProxiedRoute) {
    const { upstream, pathname } = route;
    const method = req.method ?? "GET";
    const started = performance.now();
    const span = startServerSpan(`${method} proxy ${upstream}`, req.headers, {
      "http.request.method": method,
      "url.path": pathname,
      "codflow.upstream": upstream,
    });
    const { traceId, spanId } = span.span.spanContext();
    // the query string stays out of the logs (it may carry a customer's search terms)
    const logFields = { method, path: pathname, upstream, traceId, spanId };
    let sentStatus: number | undefined;
    res.once("close", () => span.end(sentStatus));

    const answer = (problem: HttpProblem) => {
      sentStatus = problem.status;
      sendProblem(res, problem);
    };

    const declaredLength = req.headers["content-length"];
    const hasBody =
      req.headers["transfer-encoding"] !== undefined ||
      (declaredLength !== undefined && declaredLength !== "0");
    if (declaredLength !== undefined && Number(declaredLength) > bodyLimitBytes) {
      // The body is never read, so this connection cannot carry another request.
      return answer(payloadTooLarge(bodyLimitBytes));
    }

    const attempts = pools[upstream].rotation().map((base) => replicas.get(base) as Replica);
    const headers = forwardedHeaders(req, span.traceHeaders);
    let current: ClientRequest | undefined;
    let settled = false;
    let timedOut = false;
    let clientGone = false;
    const timer = setTimeout(() => {
      timedOut = true;
      current?.destroy(new UpstreamTimeout(`no response headers within ${timeoutMs} ms`));
    }, timeoutMs);
    res.once("close", () => {
      clearTimeout(timer);
      if (res.writableFinished) return;
      // the client left before the answer was complete: the upstream need not go on
      clientGone = true;
      current?.destroy();
    });

    const tryReplica = (index: number) => {
      const replica = attempts[index] as Replica;
      const target = replica.base + pathname;
      const upstreamReq = replica.request({
        hostname: replica.hostname,
        port: replica.port,
        method,
        path: replica.basePath + route.target,
        headers: ["host", replica.host, ...headers],
        agent: replica.agent,
      });
      current = upstreamReq;

      upstreamReq.once("response", (upstreamRes) => {
        settled = true;
        clearTimeout(timer);
        if (clientGone) return upstreamRes.destroy();
        sentStatus = upstreamRes.statusCode ?? 502;
        res.writeHead(sentStatus, upstreamRes.statusMessage, responseHeaders(upstreamRes));
        // pipe() rather than pipeline(), which costs an AbortController and a DOMException per
        // request; the two ways it can break are handled here: the upstream dying mid-body cuts
        // the client's answer short, the client leaving destroys `current` (see "close" above).
        upstreamRes.pipe(res);
        upstreamRes.once("error", () => res.destroy());
        logger.info({ ...logFields, target, status: sentStatus, ms: elapsed(started) }, "proxied");
      });

      upstreamReq.on("error", (error) => {
        if (settled || clientGone) return;
        logger.warn(
          { ...logFields, target, err: describeError(error), ms: elapsed(started) },
          "upstream failed",
        );
        const next = index + 1;
        const mayRetry =
          !timedOut &&
          !hasBody &&
          next < attempts.length &&
          (REPLAYABLE_METHODS.has(method) ||
            (error as NodeJS.ErrnoException).code === "ECONNREFUSED");
        if (mayRetry) return tryReplica(next);
        settled = true;
        clearTimeout(timer);
        answer(
          timedOut
            ? new HttpProblem(
                504,
                "gateway-timeout",
                "Gateway Timeout",
                `${upstream} did not answer within ${timeoutMs} ms`,
              )
            : new HttpProblem(
                502,
                "bad-gateway",
                "Bad Gateway",
                `${upstream} could not be reached: ${describeError(error)}`,
              ),
        );
      });

      if (!hasBody) {
        upstreamReq.end();
        return;
      }
      streamBody(req, upstreamReq, bodyLimitBytes, () => {
        if (res.headersSent) return res.destroy();
        settled = true;
        clearTimeout(timer);
        answer(payloadTooLarge(bodyLimitBytes));
      });
    };
    tryReplica(0);
  }

  return {
    forward,
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/**
 * Copies the client's body to the upstream with backpressure, counting it: past `limitBytes`
 * the upstream request is dropped and `onTooLarge` runs. Whatever the upstream will not take
 * (it failed, or the body was too large) is read and discarded, so the client's connection
 * stays usable for the answer and, unless closed, the next request.
 */
function streamBody(
  req: IncomingMessage,
  upstreamReq: ClientRequest,
  limitBytes: number,
  onTooLarge: () => void,
) {
  let received = 0;
  req.on("data", (chunk: Buffer) => {
    if (upstreamReq.destroyed) return;
    received += chunk.length;
    if (received > limitBytes) {
      upstreamReq.destroy();
      onTooLarge();
      return;
    }
    if (!upstreamReq.write(chunk)) req.pause();
  });
  upstreamReq.on("drain", () => req.resume());
  upstreamReq.once("close", () => req.resume());
  req.once("end", () => {
    if (!upstreamReq.destroyed) upstreamReq.end();
  });
  req.on("error", () => upstreamReq.destroy());
}

/**
 * The client's headers as the upstream gets them (a flat name/value list, repeats kept), with
 * X-Forwarded-* and the gateway's trace context. Services rate-limit per client IP by the LAST
 * X-Forwarded-For entry: the address this gateway saw on its socket (earlier entries are
 * whatever the client claimed).
 */
function forwardedHeaders(req: IncomingMessage, traceHeaders: Record<string, string>): string[] {
  const dropped = connectionTokens(req.headers.connection);
  const headers: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (OWN_REQUEST_HEADERS.has(name) || dropped?.has(name)) continue;
    headers.push(raw[i] as string, raw[i + 1] as string);
  }
  // repeated X-Forwarded-For headers arrive joined by ", " (node:http), i.e. as one list
  const forwardedFor = [req.headers["x-forwarded-for"], req.socket.remoteAddress]
    .filter(Boolean)
    .join(", ");
  if (forwardedFor) headers.push("x-forwarded-for", forwardedFor);
  if (req.headers.host) headers.push("x-forwarded-host", req.headers.host);
  headers.push("x-forwarded-proto", "http");
  for (const [name, value] of Object.entries(traceHeaders)) headers.push(name, value);
  return headers;
}

function responseHeaders(upstreamRes: IncomingMessage): string[] {
  const dropped = connectionTokens(upstreamRes.headers.connection);
  const headers: string[] = [];
  const raw = upstreamRes.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (OWN_RESPONSE_HEADERS.has(name) || dropped?.has(name)) continue;
    headers.push(raw[i] as string, raw[i + 1] as string);
  }
  return headers;
}

/** Header names a `Connection` header declares hop-by-hop (besides keep-alive and close). */
function connectionTokens(connection: string | undefined): Set<string> | undefined {
  if (!connection) return undefined;
  const names = connection
    .split(",")
    .map((token) => token.trim().toLowerCase())
    .filter((token) => token !== "" && token !== "keep-alive" && token !== "close");
  return names.length > 0 ? new Set(names) : undefined;
}

function payloadTooLarge(limitBytes: number): HttpProblem {
  return new HttpProblem(
    413,
    "payload-too-large",
    "Payload Too Large",
    `request bodies are limited to ${limitBytes} bytes`,
    undefined,
    { connection: "close" },
  );
}

function sendProblem(res: ServerResponse, problem: HttpProblem) {
  if (res.headersSent || res.destroyed) return;
  const body = JSON.stringify(problem.toJSON());
  res.writeHead(problem.status, {
    ...problem.headers,
    "content-type": "application/problem+json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
