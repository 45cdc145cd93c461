import { randomUUID } from "node:crypto";
import { checkoutBodyFor, type VerifiedCustomer } from "../../scripts/lib/api.ts";
import type { SeededVariant } from "../support/burst.ts";

/** What the load asks for; each kind has the answers that count as success. */
const EXPECTED = {
  "POST /v1/cart/lines": [201],
  "POST /v1/checkouts": [200, 202],
  "GET /v1/checkouts/:id": [200],
  "GET /v1/checkouts/:id/events": [200],
  "GET /v1/products/:slug": [200],
  "GET /v1/orders": [200],
} as const;
export type RequestKind = keyof typeof EXPECTED;

const TERMINAL = new Set(["confirmed", "failed"]);
const POLL_MS = 250;
/** COD_MAX_ACTIVE_ORDERS: a customer's confirmed orders stay active until delivered. */
export const PURCHASES_PER_CUSTOMER = 3;

/** One purchase: the customer, the line added to the cart, and the checkout it became. */
export interface Purchase {
  customer: VerifiedCustomer;
  line: { variantId: string; qty: number };
  key: string;
  checkoutId?: string;
}

export interface LoadReport {
  sent: Record<string, number>;
  /** Answers other than the expected ones, and requests that got no answer, in words. */
  failures: string[];
  purchases: Purchase[];
  /** How `POST /v1/checkouts` with `Prefer: wait=10` was answered: 200 (final) or 202. */
  checkoutAnswers: Record<string, number>;
  /** SSE streams that ended before the terminal status and were opened again. */
  sseReconnects: number;
  /** How late the scheduler started a request, at worst (a busy client skews an open loop). */
  maxLagMs: number;
}

/**
 * A steady open-loop load through the gateway, as a storefront makes it: `purchasesPerSecond`
 * times a second an idle customer puts one line in their cart — a POST no gateway may send
 * twice — and checks out with an Idempotency-Key and `Prefer: wait=10`; every fourth follows its
 * checkout on the SSE stream (opened again if it ends early, as EventSource does), the others
 * poll it when the answer was 202. A customer buys again once their checkout has ended, up to
 * PURCHASES_PER_CUSTOMER times. `readsPerSecond` GETs go to the product page,
 * the customer's orders and a checkout's status in turn. Requests leave on schedule whether or
 * not earlier ones were answered, and none is retried: every failure is counted.
 *
 * @example const load = startSteadyLoad({...}); … const report = await load.stop();
 */
export function startSteadyLoad({
  gatewayUrl,
  customers,
  variants,
  purchasesPerSecond,
  readsPerSecond,
}: {
  gatewayUrl: string;
  customers: readonly VerifiedCustomer[];
  variants: readonly SeededVariant[];
  purchasesPerSecond: number;
  readsPerSecond: number;
}) {
  const report: LoadReport = {
    sent: {},
    failures: [],
    purchases: [],
    checkoutAnswers: {},
    sseReconnects: 0,
    maxLagMs: 0,
  };
  const inFlight = new Set<Promise<void>>();
  let stopped = false;

  /** One request, counted; its body as text, or undefined when it failed. */
  const call = async (
    kind: RequestKind,
    path: string,
    init: RequestInit & { token?: string } = {},
  ): Promise<{ status: number; body: string } | undefined> => {
    report.sent[kind] = (report.sent[kind] ?? 0) + 1;
    const { token, headers, ...rest } = init;
    try {
      const res = await fetch(`${gatewayUrl}${path}`, {
        ...rest,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      });
      const body = await res.text();
      if (!(EXPECTED[kind] as readonly number[]).includes(res.status)) {
        report.failures.push(`${kind} ${path}: ${res.status} ${body.slice(0, 300)}`);
        return undefined;
      }
      return { status: res.status, body };
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      report.failures.push(
        `${kind} ${path}: no answer (${cause?.code ?? cause?.message ?? String(err)})`,
      );
      return undefined;
    }
  };

  const statusOf = (body: string) => (JSON.parse(body) as { status?: string }).status ?? "";

  /** Reads the SSE stream until a terminal status, opening it again when it ends before. */
  const follow = async (purchase: Purchase, id: string): Promise<boolean> => {
    for (let opened = 0; ; opened++) {
      if (opened > 0) report.sseReconnects++;
      const answer = await call("GET /v1/checkouts/:id/events", `/v1/checkouts/${id}/events`, {
        token: purchase.customer.token,
      });
      if (!answer) return false;
      const statuses = [...answer.body.matchAll(/"status":"(\w+)"/g)].map((m) => m[1]);
      if (statuses.some((s) => TERMINAL.has(s ?? ""))) return true;
    }
  };

  /** Polls the checkout, as a storefront does after a 202, until a terminal status. */
  const poll = async (purchase: Purchase, id: string): Promise<boolean> => {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      const answer = await call("GET /v1/checkouts/:id", `/v1/checkouts/${id}`, {
        token: purchase.customer.token,
      });
      if (!answer) return false;
      if (TERMINAL.has(statusOf(answer.body))) return true;
    }
  };

  const idle = [...customers];
  const purchasesOf = new Map<string, number>();
  const purchase = async (n: number) => {
    const customer = idle.shift();
    if (!customer) {
      report.failures.push(`purchase ${n}: no idle customer left (of ${customers.length})`);
      return;
    }
    if (await buy(n, customer)) {
      const count = (purchasesOf.get(customer.id) ?? 0) + 1;
      purchasesOf.set(customer.id, count);
      if (count < PURCHASES_PER_CUSTOMER) idle.push(customer);
    }
  };

  /** One purchase; true when its checkout ended and the customer may buy again. */
  const buy = async (n: number, customer: VerifiedCustomer): Promise<boolean> => {
    const variant = variants[n % variants.length] as SeededVariant;
    const made: Purchase = {
      customer,
      line: { variantId: variant.id, qty: 1 + (n % 2) },
      key: randomUUID(),
    };
    report.purchases.push(made);
    const added = await call("POST /v1/cart/lines", "/v1/cart/lines", {
      method: "POST",
      token: customer.token,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(made.line),
    });
    if (!added) return false;
    const accepted = await call("POST /v1/checkouts", "/v1/checkouts", {
      method: "POST",
      token: customer.token,
      headers: {
        "content-type": "application/json",
        "idempotency-key": made.key,
        prefer: "wait=10",
      },
      body: JSON.stringify(checkoutBodyFor(customer.phone)),
    });
    if (!accepted) return false;
    report.checkoutAnswers[accepted.status] = (report.checkoutAnswers[accepted.status] ?? 0) + 1;
    const id = (JSON.parse(accepted.body) as { id: string }).id;
    made.checkoutId = id;
    if (n % 4 === 0) return follow(made, id);
    if (accepted.status === 202) return poll(made, id);
    return true;
  };

  const read = async (n: number) => {
    const variant = variants[n % variants.length] as SeededVariant;
    const recent = report.purchases.findLast((p) => p.checkoutId);
    const customer = recent?.customer ?? customers[0];
    switch (n % 3) {
      case 0:
        await call("GET /v1/products/:slug", `/v1/products/${variant.slug}`);
        break;
      case 1:
        await call("GET /v1/orders", "/v1/orders", { token: customer?.token });
        break;
      default:
        if (recent?.checkoutId) {
          await call("GET /v1/checkouts/:id", `/v1/checkouts/${recent.checkoutId}`, {
            token: recent.customer.token,
          });
        } else {
          await call("GET /v1/products/:slug", `/v1/products/${variant.slug}`);
        }
    }
  };

  /** Starts `work(n)` at `perSecond` on a fixed schedule until stopped. */
  const schedule = async (perSecond: number, work: (n: number) => Promise<void>) => {
    const began = performance.now();
    for (let n = 0; !stopped; n++) {
      const due = began + (n * 1000) / perSecond;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (stopped) return;
      report.maxLagMs = Math.max(report.maxLagMs, performance.now() - due);
      const task = work(n).finally(() => inFlight.delete(task));
      inFlight.add(task);
    }
  };

  const schedulers = [schedule(purchasesPerSecond, purchase), schedule(readsPerSecond, read)];
  return {
    /** Requests sent so far. */
    sent: () => Object.values(report.sent).reduce((sum, n) => sum + n, 0),
    /** Stops scheduling, waits for every request under way, and reports. */
    async stop(): Promise<LoadReport> {
      stopped = true;
      await Promise.all(schedulers);
      while (inFlight.size > 0) await Promise.all([...inFlight]);
      return report;
    },
  };
}
