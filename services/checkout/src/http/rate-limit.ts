import type { IncomingMessage } from "node:http";
import { type AppEnv, HttpProblem, type Sql } from "@codflow/shared";
import type { Context, MiddlewareHandler } from "hono";
import { type RateLimitInfo, rateLimiter } from "hono-rate-limiter";
import { PostgresRateLimitStore } from "../db/rate-limit-store.ts";
import type { CheckoutMetrics } from "../metrics.ts";

type LimitedEnv = AppEnv & { Variables: { rateLimit: RateLimitInfo } };

/**
 * A fixed-window rate limit counted in Postgres (shared by replicas): the `limit`+1st request of
 * a client within `windowSeconds` is refused with 429 `rate-limited` and `Retry-After`, counted
 * in `codflow_rate_limited_total{limiter=name}`. A `limit` of 0 counts nothing and refuses nothing.
 *
 * @example rateLimit({ sql, metrics, name: "checkout:ip", limit: 120, windowSeconds: 60, clientOf: clientIp })
 */
export function rateLimit({
  sql,
  metrics,
  name,
  limit,
  windowSeconds,
  clientOf,
}: {
  sql: Sql;
  metrics: CheckoutMetrics;
  /** Names the limiter in its counters' keys, e.g. `checkout:customer`. */
  name: string;
  limit: number;
  windowSeconds: number;
  /** Who is counted: a customer id, an IP. */
  clientOf: (c: Context<AppEnv>) => string;
}): MiddlewareHandler<AppEnv> {
  if (limit === 0) return async (_c, next) => next();
  const limiter = rateLimiter<LimitedEnv>({
    windowMs: windowSeconds * 1000,
    limit,
    standardHeaders: false,
    store: new PostgresRateLimitStore<LimitedEnv>(sql, `${name}:`),
    keyGenerator: (c) => clientOf(c as unknown as Context<AppEnv>),
    handler: (c) => {
      const resetTime =
        c.get("rateLimit").resetTime?.getTime() ?? Date.now() + windowSeconds * 1000;
      const retryAfter = Math.max(1, Math.ceil((resetTime - Date.now()) / 1000));
      metrics.rateLimited.inc({ limiter: name });
      throw new HttpProblem(
        429,
        "rate-limited",
        "Too many requests",
        `at most ${limit} of these requests per ${windowSeconds} s; retry in ${retryAfter} s`,
        undefined,
        { "retry-after": String(retryAfter) },
      );
    },
  });
  return limiter as unknown as MiddlewareHandler<AppEnv>;
}

/**
 * The client's address: the last X-Forwarded-For entry, which the gateway (the only way in)
 * appends from its socket — entries before it are the client's own claims — else this server's
 * socket peer (@hono/node-server keeps the request in `c.env.incoming`).
 */
export function clientIp(c: Context<AppEnv>): string {
  const forwarded = c.req.header("x-forwarded-for")?.split(",").at(-1)?.trim();
  if (forwarded) return forwarded;
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  return incoming?.socket.remoteAddress ?? "unknown";
}

export const customerOf = (c: Context<AppEnv>) => c.get("user").id;
