import {
  type ClientRequest,
  Agent as HttpAgent,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { HttpProblem, type Logger, payloadTooLarge, startServerSpan } from "@codflow/shared";
import { describeError } from "./errors.ts";
import { startReadinessProbes } from "./readiness-probes.ts";
import {
  createReplicaSets,
  eject,
  nextReplica,
  type Replica,
  type ReplicaTour,
} from "./replicas.ts";
import { isConnectionRefused, mayResend } from "./retry.ts";
import type { ProxiedRoute, UpstreamPools } from "./routes.ts";

export interface UpstreamProxyOptions {
  pools: UpstreamPools;
  /** Until the upstream's response headers arrive; a body still streaming (SSE) is never cut. */
  timeoutMs: number;
  bodyLimitBytes: number;
  /** Connections kept to each replica at most; requests beyond wait for one to come free. */
  maxSocketsPerReplica: number;
  /** Connections to one replica that may be opening (not yet answered) at once: ConnectionRamp. */
  connectBurst: number;
  /** How often each replica's `/readyz` is asked; one that fails it gets no requests. */
  readinessIntervalMs: number;
  /** How long a replica that refused a connection gets no requests (a passing probe ends it). */
  ejectionMs: number;
  logger: Logger;
}

export interface UpstreamProxy {
  forward(req: IncomingMessage, res: ServerResponse, route: ProxiedRoute): void;
  /** Stops the readiness probes and closes the pooled upstream connections. */
  close(): void;
}

class UpstreamTimeout extends Error {
  override name = "UpstreamTimeout";
}

/**
 * A request body is kept this far while it streams, until an answer comes, so that it can be
 * sent again to another replica; a larger one is sent once. API bodies are a few hundred bytes.
 */
const REPLAY_LIMIT_BYTES = 64 * 1024;
/**
 * An idle pooled connection is closed after this, before the service would close it (Node's
 * server keep-alive timeout, 5 s) and possibly just as a request goes out on it.
 */
const IDLE_CONNECTION_MS = 4_000;
/** A readiness probe without an answer this long counts as failed (services check theirs in 2 s). */
const PROBE_TIMEOUT_MS = 3_000;

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

/**
 * Forwards a request to a replica of the service that owns its path prefix with node:http, the
 * body streamed both ways as it comes (SSE included), over keep-alive connections pooled per
 * replica.
 *
 * Replicas take turns, skipping those out of rotation: not ready by their `/readyz` (a replica
 * that is shutting down fails it while it drains) or ejected for a while after refusing a
 * connection. A request whose attempt fails before any answer goes on to the next replica when
 * that is safe (see `mayResend`: refused connection, idempotent method or Idempotency-Key), its
 * body sent again from what was kept of it; when every replica is out of rotation they are all
 * tried anyway. Answers problem+json itself: 502 when no replica answered, 504 when none sent
 * headers within the timeout, 413 for a body over the limit (declared or counted as it streams)
 * with `Connection: close`.
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
  connectBurst,
  readinessIntervalMs,
  ejectionMs,
  logger,
}: UpstreamProxyOptions): UpstreamProxy {
  const agentOptions = {
    keepAlive: true,
    maxSockets: maxSocketsPerReplica,
    maxFreeSockets: maxSocketsPerReplica,
    timeout: IDLE_CONNECTION_MS,
  };
  const httpAgent = new HttpAgent(agentOptions);
  const httpsAgent = new HttpsAgent(agentOptions);
  const sets = createReplicaSets(
    pools,
    { http: httpAgent, https: httpsAgent },
    { max: maxSocketsPerReplica, burst: connectBurst },
  );
  // One line per proxied request, of fields that hold no personal data (method, the path
  // without its query, upstream, replica, status, time): the PII redaction's path walk (~20
  // paths, most of them wildcards) cost 40–70 µs a line, 5–7 % of the gateway's CPU.
  const accessLog = logger.child({}, { redact: [] });
  const probes = startReadinessProbes({
    replicas: Object.values(sets).flatMap((set) => set.replicas),
    intervalMs: readinessIntervalMs,
    timeoutMs: PROBE_TIMEOUT_MS,
    logger,
  });

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

    const set = sets[upstream];
    const tour: ReplicaTour = { start: set.nextStart(started), step: 0, tried: 0 };
    const hasIdempotencyKey = req.headers["idempotency-key"] !== undefined;
    const headers = forwardedHeaders(req, span.traceHeaders);
    let current: ClientRequest | undefined;
    let stopWaiting: (() => void) | undefined;
    let settled = false;
    let timedOut = false;
    let clientGone = false;
    // the body read so far, until an answer comes (undefined: none, or too large to keep)
    let kept: Buffer[] | undefined = hasBody ? [] : undefined;
    let bodyEnded = !hasBody;
    const timer = setTimeout(() => {
      timedOut = true;
      if (current) {
        current.destroy(new UpstreamTimeout(`no response headers within ${timeoutMs} ms`));
        return;
      }
      stopWaiting?.();
      logger.warn(
        { ...logFields, ms: elapsed(started) },
        "no connection to the upstream came free",
      );
      fail(gatewayTimeout());
    }, timeoutMs);
    res.once("close", () => {
      clearTimeout(timer);
      if (res.writableFinished) return;
      // the client left before the answer was complete: the upstream need not go on
      clientGone = true;
      stopWaiting?.();
      current?.destroy();
    });
    const gatewayTimeout = () =>
      new HttpProblem(
        504,
        "gateway-timeout",
        "Gateway Timeout",
        `${upstream} did not answer within ${timeoutMs} ms`,
      );
    const fail = (problem: HttpProblem) => {
      settled = true;
      clearTimeout(timer);
      answer(problem);
    };

    // While it waits for a connection the body stays unread (the client feels the backpressure).
    const send = (replica: Replica) => {
      req.pause();
      stopWaiting = replica.ramp.enter(() => {
        stopWaiting = undefined;
        dispatch(replica);
        req.resume();
      });
    };

    const dispatch = (replica: Replica) => {
      const target = replica.base + pathname;
      const upstreamReq = replica.request({
        hostname: replica.hostname,
        port: replica.port,
        method,
        path: replica.basePath + route.target,
        // node:http serialises an array of headers here and now, so the slot can be reused
        headers: withHost(headers, replica.host),
        agent: replica.agent,
      });
      current = upstreamReq;
      // Node emits the request's "close" just before it hands a kept-alive socket back to the
      // agent: the next request waits a microtask so it finds that socket free, not a new one.
      upstreamReq.once("close", () => queueMicrotask(() => replica.ramp.leave()));

      upstreamReq.once("response", (upstreamRes) => {
        replica.ramp.answered(upstreamReq.socket);
        settled = true;
        kept = undefined;
        clearTimeout(timer);
        if (clientGone) return upstreamRes.destroy();
        sentStatus = upstreamRes.statusCode ?? 502;
        res.writeHead(sentStatus, upstreamRes.statusMessage, responseHeaders(upstreamRes));
        // pipe() rather than pipeline(), which costs an AbortController and a DOMException per
        // request; the two ways it can break are handled here: the upstream dying mid-body cuts
        // the client's answer short, the client leaving destroys `current` (see "close" above).
        upstreamRes.pipe(res);
        upstreamRes.once("error", () => res.destroy());
        accessLog.info(
          { ...logFields, target, status: sentStatus, ms: elapsed(started) },
          "proxied",
        );
      });

      upstreamReq.on("error", (error) => {
        if (settled || clientGone || upstreamReq !== current) return;
        const now = performance.now();
        if (isConnectionRefused(error) && eject(replica, now, ejectionMs)) {
          logger.warn(
            { upstream, replica: replica.base, ejectionMs },
            "replica refused a connection: out of rotation",
          );
        }
        logger.warn(
          { ...logFields, target, err: describeError(error), ms: elapsed(started) },
          "upstream failed",
        );
        const resendable =
          !timedOut &&
          (!hasBody || kept !== undefined) &&
          mayResend(method, hasIdempotencyKey, error);
        const next = resendable ? nextReplica(set, tour, now) : undefined;
        if (next) {
          // this attempt is over: a timeout while the next one waits for a connection answers 504
          current = undefined;
          return send(next);
        }
        fail(
          timedOut
            ? gatewayTimeout()
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
      upstreamReq.on("drain", resumeBody);
      upstreamReq.once("close", resumeBody);
      if (kept) for (const chunk of kept) upstreamReq.write(chunk);
      if (bodyEnded) upstreamReq.end();
    };

    // The body is read once, for every attempt: each chunk goes to the attempt under way and,
    // while it fits, is kept for the next one. Whatever no attempt takes (it failed, or the body
    // is too large) is read and discarded, so the client's connection stays usable for the answer
    // and, unless closed, the next request.
    const resumeBody = () => req.resume();
    if (hasBody) {
      let received = 0;
      let tooLarge = false;
      req.on("data", (chunk: Buffer) => {
        if (tooLarge) return;
        received += chunk.length;
        if (received > bodyLimitBytes) {
          tooLarge = true;
          kept = undefined;
          current?.destroy();
          req.resume();
          if (res.headersSent) return res.destroy();
          return fail(payloadTooLarge(bodyLimitBytes));
        }
        if (kept) {
          if (received <= REPLAY_LIMIT_BYTES) kept.push(chunk);
          else kept = undefined;
        }
        if (current && !current.destroyed && !current.write(chunk)) req.pause();
      });
      req.once("end", () => {
        bodyEnded = true;
        if (current && !current.destroyed) current.end();
      });
      req.on("error", () => current?.destroy());
    }

    const first = nextReplica(set, tour, performance.now()) as Replica;
    send(first);
  }

  return {
    forward,
    close() {
      probes.stop();
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/**
 * The client's headers as the upstream gets them (a flat name/value list, repeats kept), with
 * X-Forwarded-* and the gateway's trace context, and a Host slot first that `withHost` fills for
 * each attempt. Services rate-limit per client IP by the LAST X-Forwarded-For entry: the address
 * this gateway saw on its socket (earlier entries are whatever the client claimed).
 */
function forwardedHeaders(req: IncomingMessage, traceHeaders: Record<string, string>): string[] {
  const dropped = connectionTokens(req.headers.connection);
  const headers: string[] = ["host", ""];
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

function withHost(headers: string[], host: string): string[] {
  headers[1] = host;
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
