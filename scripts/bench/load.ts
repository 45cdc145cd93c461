import { randomUUID } from "node:crypto";
import { Agent, request } from "node:http";
import { checkoutBodyFor } from "../lib/api.ts";
import { arrivalOffsets, dueCount } from "./schedule.ts";
import type { BenchCustomer } from "./seed.ts";

/** How one scheduled checkout went, times in ms on the run's `performance.now()` clock. */
export interface CheckoutOutcome {
  scheduledAt: number;
  /** When the terminal state was known (the answer to the POST, or a later GET). */
  doneAt: number;
  /** HTTP status of the POST; 0 when the request itself failed (connection refused, reset). */
  httpStatus: number;
  /** The problem slug of a 4xx/5xx answer. */
  slug?: string;
  checkoutId?: string;
  status?: "confirmed" | "failed" | "processing";
  failureReason?: string;
  /** Server-side accepted→terminal, from the checkout's own createdAt/updatedAt. */
  serverMs?: number;
  error?: string;
}

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: the checkout or problem JSON, read field by field
  body: any;
}

/** A keep-alive HTTP client over a pool of `connections` sockets. */
export function httpClient(baseUrl: string, connections: number) {
  const agent = new Agent({
    keepAlive: true,
    maxSockets: connections,
    maxFreeSockets: connections,
  });
  const { hostname, port } = new URL(baseUrl);
  const call = (method: string, path: string, headers: Record<string, string>, body?: string) =>
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
      req.on("error", reject);
      req.end(body);
    });
  return { call, close: () => agent.destroy() };
}

export type HttpClient = ReturnType<typeof httpClient>;

const TERMINAL_POLL_MS = 200;
const TERMINAL_DEADLINE_MS = 150_000;

const serverMs = (body: { createdAt?: string; updatedAt?: string }) =>
  body.createdAt && body.updatedAt
    ? Date.parse(body.updatedAt) - Date.parse(body.createdAt)
    : undefined;

/** POST one checkout with `Prefer: wait=10`; a 202 (no terminal state in time) is polled. */
async function checkOut(
  client: HttpClient,
  customer: BenchCustomer,
  scheduledAt: number,
): Promise<CheckoutOutcome> {
  const auth = { authorization: `Bearer ${customer.token}` };
  try {
    const res = await client.call(
      "POST",
      "/v1/checkouts",
      {
        ...auth,
        "content-type": "application/json",
        "idempotency-key": randomUUID(),
        prefer: "wait=10",
      },
      JSON.stringify(checkoutBodyFor(customer.phone)),
    );
    if (res.status !== 200 && res.status !== 202) {
      const slug = typeof res.body?.type === "string" ? res.body.type.split("/").pop() : undefined;
      return { scheduledAt, doneAt: performance.now(), httpStatus: res.status, slug };
    }
    let body = res.body;
    const deadline = performance.now() + TERMINAL_DEADLINE_MS;
    while (body.status === "processing" && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, TERMINAL_POLL_MS));
      const polled = await client.call("GET", `/v1/checkouts/${body.id}`, auth);
      if (polled.status === 200) body = polled.body;
    }
    return {
      scheduledAt,
      doneAt: performance.now(),
      httpStatus: res.status,
      checkoutId: body.id,
      status: body.status,
      failureReason: body.failure?.reason,
      serverMs: serverMs(body),
    };
  } catch (error) {
    return {
      scheduledAt,
      doneAt: performance.now(),
      httpStatus: 0,
      error: (error as Error).message,
    };
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
