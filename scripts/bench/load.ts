import { randomUUID } from "node:crypto";
import { Agent, request } from "node:http";
import { connectPostgres } from "@codflow/shared";
import pRetry from "p-retry";
import { checkoutBodyFor } from "../lib/api.ts";
import { arrivalOffsets, dueCount } from "./schedule.ts";
import type { BenchCustomer } from "./seed.ts";

/** One POST of a checkout: its status (0 when the request itself failed) and problem slug. */
export interface Attempt {
  httpStatus: number;
  /** The problem slug of a 4xx/5xx answer. */
  slug?: string;
  /** Why the request itself failed (connection refused, reset). */
  error?: string;
}

/** How one scheduled checkout went, times in ms on the run's `performance.now()` clock. */
export interface CheckoutOutcome {
  scheduledAt: number;
  /** When the terminal state was known (the answer to the POST, or a later GET). */
  doneAt: number;
  /** Every POST sent for it, the last one's answer last: more than one after a retryable failure. */
  attempts: Attempt[];
  checkoutId?: string;
  status?: "confirmed" | "failed" | "processing";
  failureReason?: string;
  /** Server-side accepted→terminal, from the checkout's own createdAt/updatedAt. */
  serverMs?: number;
}

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: the checkout or problem JSON, read field by field
  body: any;
}

/**
 * An idle pooled socket is dropped after this, before the server would close it (Node's server
 * keep-alive timeout, 5 s) and possibly just as a request goes out on it.
 */
const IDLE_SOCKET_MS = 4_000;

/**
 * A keep-alive HTTP client over a pool of `connections` sockets. A request that fails on a
 * pooled socket the server closed as it went out (Node's documented keep-alive race:
 * `req.reusedSocket` and ECONNRESET, "socket hang up") is sent again: the server never read it,
 * and every checkout carries an Idempotency-Key anyway. Each such failure takes its dead socket
 * out of the pool, so this ends, at the latest on a new socket; any other failure, and any
 * failure on a new socket, is the caller's.
 */
export function httpClient(baseUrl: string, connections: number) {
  const agent = new Agent({
    keepAlive: true,
    maxSockets: connections,
    maxFreeSockets: connections,
    timeout: IDLE_SOCKET_MS,
  });
  const { hostname, port } = new URL(baseUrl);
  const attempt = (
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
  ): Promise<Answer> =>
    new Promise<Answer>((resolve, reject) => {
      const req = request(
        {
          agent,
          hostname,
          port,
          method,
          path,
          headers: body ? { ...headers, "content-length": Buffer.byteLength(body) } : headers,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown = text;
            if (text && res.headers["content-type"]?.includes("json")) {
              try {
                parsed = JSON.parse(text);
              } catch {
                parsed = text;
              }
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
          res.on("error", reject);
        },
      );
      req.on("error", (error: NodeJS.ErrnoException) => {
        if (req.reusedSocket && error.code === "ECONNRESET") {
          resolve(attempt(method, path, headers, body));
        } else reject(error);
      });
      req.end(body);
    });
  const call = (method: string, path: string, headers: Record<string, string>, body?: string) =>
    attempt(method, path, headers, body);
  return { call, close: () => agent.destroy() };
}

export type HttpClient = ReturnType<typeof httpClient>;

const serverMs = (body: { createdAt?: string; updatedAt?: string }) =>
  body.createdAt && body.updatedAt
    ? Date.parse(body.updatedAt) - Date.parse(body.createdAt)
    : undefined;

/** Failures a storefront retries with the same Idempotency-Key (API.md: the key makes it safe). */
const isRetryable = ({ httpStatus, slug }: Attempt) =>
  httpStatus === 0 ||
  httpStatus === 502 ||
  httpStatus === 503 ||
  httpStatus === 504 ||
  (httpStatus === 409 && slug === "request-in-progress");

class RetryableFailure extends Error {
  constructor(readonly attempt: Attempt) {
    super(`HTTP ${attempt.httpStatus} ${attempt.slug ?? attempt.error ?? ""}`);
  }
}

/** How a storefront retries: backing off 1 s, 2 s, 4 s … up to 10 s, for at most 5 minutes. */
const STOREFRONT_RETRIES = {
  retries: 30,
  minTimeout: 1_000,
  maxTimeout: 10_000,
  randomize: true,
  maxRetryTime: 5 * 60_000,
} as const;

/**
 * POST one checkout with `Prefer: wait=10`, as a storefront does: a 502/503/504, a dropped
 * connection or `request-in-progress` is sent again with the same Idempotency-Key after a
 * back-off (STOREFRONT_RETRIES), so the customer ends with an outcome; every failed attempt is
 * kept and counted as an HTTP error. A 202 (no terminal state within the wait) stays `processing`
 * here; `settleFromDatabase` fills in its end once the system is quiet, instead of polling, which
 * under overload would multiply the load.
 */
export async function checkOut(
  client: HttpClient,
  customer: BenchCustomer,
  scheduledAt: number,
): Promise<CheckoutOutcome> {
  const headers = {
    authorization: `Bearer ${customer.token}`,
    "content-type": "application/json",
    "idempotency-key": randomUUID(),
    prefer: "wait=10",
  };
  const body = JSON.stringify(checkoutBodyFor(customer.phone));
  const attempts: Attempt[] = [];
  const post = async () => {
    const res = await client
      .call("POST", "/v1/checkouts", headers, body)
      .catch((error: Error): Answer => ({ status: 0, body: { error: error.message } }));
    const attempt: Attempt = { httpStatus: res.status };
    if (res.status === 0) attempt.error = res.body.error;
    else if (typeof res.body?.type === "string") attempt.slug = res.body.type.split("/").pop();
    if (isRetryable(attempt)) throw new RetryableFailure(attempt);
    attempts.push(attempt);
    return res;
  };
  const res = await pRetry(post, {
    ...STOREFRONT_RETRIES,
    shouldRetry: ({ error }) => error instanceof RetryableFailure,
    onFailedAttempt: ({ error }) => {
      if (error instanceof RetryableFailure) attempts.push(error.attempt);
    },
  }).catch(() => undefined);
  const doneAt = performance.now();
  if (!res || (res.status !== 200 && res.status !== 202)) return { scheduledAt, doneAt, attempts };
  return {
    scheduledAt,
    doneAt,
    attempts,
    checkoutId: res.body.id,
    status: res.body.status,
    failureReason: res.body.failure?.reason,
    serverMs: res.status === 200 ? serverMs(res.body) : undefined,
  };
}

/**
 * Completes the outcomes from checkout's database once the system is quiet, by customer (each
 * checks out once): the terminal state of checkouts answered 202 and of checkouts created although
 * their answer was an error (e.g. the gateway's 504), with their end time taken from the
 * checkout's own timestamps (same machine, same clock), and for every checkout the server-side
 * accepted→terminal figure. Returns the customers with more than one checkout (duplicates).
 */
export async function settleFromDatabase(
  checkoutUrl: string,
  outcomes: CheckoutOutcome[],
  customerIds: readonly string[],
): Promise<string[]> {
  const sql = connectPostgres(checkoutUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<
      {
        id: string;
        customer: string;
        status: string;
        reason: string | null;
        created: number;
        ended: number;
      }[]
    >`
      select id, customer_id as customer, status, failure_reason as reason,
             extract(epoch from created_at)::float8 * 1000 as created,
             extract(epoch from coalesce(completed_at, updated_at))::float8 * 1000 as ended
      from checkouts where customer_id = any(${customerIds as string[]})`;
    const byCustomer = new Map<string, (typeof rows)[number][]>();
    for (const row of rows)
      byCustomer.set(row.customer, [...(byCustomer.get(row.customer) ?? []), row]);
    for (const [i, o] of outcomes.entries()) {
      const row = byCustomer.get(customerIds[i] as string)?.[0];
      if (!row) continue;
      o.checkoutId ??= row.id;
      o.serverMs = row.ended - row.created;
      if (o.status === "confirmed" || o.status === "failed") continue;
      o.status = row.status as CheckoutOutcome["status"];
      o.failureReason = row.reason ?? undefined;
      if (row.status !== "processing") o.doneAt = row.ended - performance.timeOrigin;
    }
    return [...byCustomer].filter(([, its]) => its.length > 1).map(([customer]) => customer);
  } finally {
    await sql.end();
  }
}

/**
 * Open loop: `customers[i]` checks out at `i / rate` s after the start whether or not the earlier
 * checkouts were answered, so a slow system shows as latency (measured from the scheduled time),
 * never as a lower offered rate. Resolves when every checkout has its outcome.
 */
export async function runOpenLoop(
  client: HttpClient,
  customers: readonly BenchCustomer[],
  { rate, seconds }: { rate: number; seconds: number },
): Promise<{ startedAt: number; outcomes: CheckoutOutcome[]; maxSendLagMs: number }> {
  const offsets = arrivalOffsets(rate, seconds);
  if (customers.length < offsets.length)
    throw new Error(
      `${offsets.length} checkouts need as many customers, seeded ${customers.length}`,
    );
  const pending: Promise<CheckoutOutcome>[] = [];
  const startedAt = performance.now();
  let sent = 0;
  let maxSendLagMs = 0;
  while (sent < offsets.length) {
    const now = performance.now() - startedAt;
    const due = dueCount(offsets, sent, now);
    for (let k = 0; k < due; k++) {
      const i = sent + k;
      const scheduledAt = startedAt + (offsets[i] as number);
      maxSendLagMs = Math.max(maxSendLagMs, performance.now() - scheduledAt);
      pending.push(checkOut(client, customers[i] as BenchCustomer, scheduledAt));
    }
    sent += due;
    if (sent >= offsets.length) break;
    const wait = (offsets[sent] as number) - (performance.now() - startedAt);
    await new Promise((resolve) =>
      wait > 1 ? setTimeout(resolve, Math.min(wait, 10)) : setImmediate(resolve),
    );
  }
  return { startedAt, outcomes: await Promise.all(pending), maxSendLagMs };
}
