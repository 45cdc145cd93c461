/**
 * `pnpm test:rollout`: a rolling restart under steady load loses nothing (issue 8, item 8).
 *
 * Two replicas of each service and the gateway run as `pnpm start --replicas 2` would, with a
 * drain delay before a replica closes its listener, as the Kubernetes manifests set it (shorter
 * here: the local gateway probes readiness every 500 ms, not an endpoints controller). While
 * a steady open-loop load goes through the gateway, each replica is replaced in turn as a
 * rolling update does it: SIGTERM, its exit within the grace period, its successor started on
 * the same port, and the next one only once that successor is ready. Then the load stops, the
 * system goes quiet, and: no request failed at the client, every checkout is confirmed with
 * exactly one order holding exactly what was put in the cart, stock adds up, one email each.
 *
 * ROLLOUT_PURCHASES_PER_SECOND (default 4) and ROLLOUT_READS_PER_SECOND (default 12) set the
 * load: each purchase is two POSTs and their follow-up (an SSE stream or status polls), about
 * 21 requests a second in all.
 */
import { waitFor } from "@codflow/shared/testing";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  adminToken,
  apiClient,
  type VerifiedCustomer,
  verifiedCustomer,
} from "../../scripts/lib/api.ts";
import { fromEnv } from "../chaos/harness.ts";
import { addToCart, inParallel, type SeededVariant, seedCatalog } from "../support/burst.ts";
import { checkInvariant } from "../support/invariants.ts";
import { waitForQuiescence } from "../support/quiescence.ts";
import { SERVICES } from "../support/stack.ts";
import { type Replacement, type ReplicaStack, startReplicaStack } from "./replica-stack.ts";
import { type LoadReport, PURCHASES_PER_CUSTOMER, startSteadyLoad } from "./steady-load.ts";

const REPLICAS = 2;
/** The gateway asks each replica's /readyz this often... */
const READINESS_INTERVAL_MS = 500;
/** ...so a replica keeps serving this long after SIGTERM, with readiness failing, before it closes. */
const DRAIN_DELAY_MS = 1_500;
const GRACE_MS = 10_000;
const purchasesPerSecond = fromEnv("ROLLOUT_PURCHASES_PER_SECOND", 4);
const readsPerSecond = fromEnv("ROLLOUT_READS_PER_SECOND", 12);
/** Seconds of load before the first replacement and after the last one. */
const STEADY_SECONDS = 3;
/**
 * Customers enough for this long a load (a replacement takes a few seconds, but a busy 2-core
 * machine has been seen to need 25 s to start one), plus 15 s of purchases under way at once.
 */
const LOAD_BUDGET_SECONDS = 180;
const CUSTOMERS = Math.ceil(
  (purchasesPerSecond * LOAD_BUDGET_SECONDS) / PURCHASES_PER_CUSTOMER + purchasesPerSecond * 15,
);

let stack: ReplicaStack;
let variants: SeededVariant[];
let customers: VerifiedCustomer[];

beforeAll(async () => {
  stack = await startReplicaStack({
    replicas: REPLICAS,
    env: {
      SHUTDOWN_DRAIN_DELAY_MS: String(DRAIN_DELAY_MS),
      SHUTDOWN_GRACE_MS: String(GRACE_MS),
      UPSTREAM_READINESS_INTERVAL_MS: String(READINESS_INTERVAL_MS),
    },
  });
  const api = apiClient(stack.gatewayUrl);
  const admin = await adminToken();
  ({ plentiful: variants } = await seedCatalog(api, admin, { plentiful: 4, scarce: 0 }));
  // checkout's catalog replica must know every variant before the load puts them in carts
  const tester = await verifiedCustomer(api, stack.sms, "rollout-warmup");
  for (const variant of variants) {
    const res = await addToCart(api, tester.token, { variantId: variant.id, qty: 1 });
    if (res.status !== 201) throw new Error(`warm-up cart line: ${res.status}`);
  }
  customers = await inParallel(
    Array.from({ length: CUSTOMERS }, (_, i) => i),
    20,
    () => verifiedCustomer(api, stack.sms, "rollout"),
  );
}, 240_000);

afterAll(async () => {
  await stack?.stop();
});

describe("a rolling restart of every service under steady load", () => {
  it("fails no request, loses and duplicates no order, and keeps the invariant", async () => {
    const load = startSteadyLoad({
      gatewayUrl: stack.gatewayUrl,
      customers,
      variants,
      purchasesPerSecond,
      readsPerSecond,
    });
    const started = performance.now();
    const replacements: Replacement[] = [];
    const steady = (perSecond: number) => Math.ceil(perSecond * STEADY_SECONDS);
    let report: LoadReport;
    try {
      await waitFor(() => load.sent() >= steady(purchasesPerSecond * 2 + readsPerSecond), {
        timeoutMs: 30_000,
        what: "steady load before the rollout",
      });
      for (const service of SERVICES) {
        for (let index = 0; index < REPLICAS; index++) {
          replacements.push(await stack.replace(service, index));
        }
      }
      const sentWhenDone = load.sent();
      await waitFor(
        () => load.sent() >= sentWhenDone + steady(purchasesPerSecond * 2 + readsPerSecond),
        { timeoutMs: 30_000, what: "steady load after the rollout" },
      );
    } finally {
      report = await load.stop();
    }
    const loadSeconds = (performance.now() - started) / 1000;

    const { deadLetters } = await waitForQuiescence(stack, { timeoutMs: 90_000 });
    const violations = await checkInvariant(stack.databaseUrls);
    const checkouts = await checkoutsOf(
      stack,
      report.purchases.map((p) => p.customer.id),
    );
    const orders = await orderedQuantities(stack);
    const mails = new Map<string, number>();
    for (const m of stack.mail.messages)
      for (const to of m.to) mails.set(to, (mails.get(to) ?? 0) + 1);

    console.log(summary({ report, replacements, loadSeconds, confirmed: orders.size }));

    expect(stack.unexpectedExits()).toEqual([]);
    for (const replacement of replacements) {
      expect(replacement, replacement.replica).toMatchObject({ exitCode: 0 });
      expect(replacement.stopMs, replacement.replica).toBeLessThan(DRAIN_DELAY_MS + GRACE_MS);
    }
    expect(report.failures).toEqual([]);
    expect(violations).toEqual([]);
    expect(deadLetters).toBe(0);
    // every purchase made exactly one checkout, and it is confirmed
    expect(checkouts).toEqual(
      new Map(report.purchases.map((p) => [p.checkoutId ?? "", "confirmed"])),
    );
    // one order per purchase, holding exactly the line put in the cart once (a cart line POST
    // sent twice would have doubled it)
    expect(report.purchases.filter((p) => orders.get(p.checkoutId ?? "") !== p.line.qty)).toEqual(
      [],
    );
    expect(orders.size).toBe(report.purchases.length);
    // one email per order: each customer got as many as they made purchases
    const purchasesBy = new Map<string, number>();
    for (const p of report.purchases)
      purchasesBy.set(p.customer.email, (purchasesBy.get(p.customer.email) ?? 0) + 1);
    expect(
      [...purchasesBy].filter(([email, n]) => mails.get(email) !== n).map(([email]) => email),
    ).toEqual([]);
  }, 300_000);
});

/** checkout id → status, for every checkout of these customers. */
async function checkoutsOf(stack: ReplicaStack, customerIds: string[]) {
  const sql = postgres(stack.databaseUrls.checkout, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ id: string; status: string }[]>`
      select id, status from checkouts where customer_id = any(${customerIds})`;
    return new Map(rows.map((r) => [r.id, r.status]));
  } finally {
    await sql.end();
  }
}

/** checkout id → the quantity its order holds, for every order. */
async function orderedQuantities(stack: ReplicaStack): Promise<Map<string, number>> {
  const sql = postgres(stack.databaseUrls.orders, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ checkout_id: string; qty: number }[]>`
      select o.checkout_id, sum(i.qty)::int as qty
      from orders o join order_items i on i.order_id = o.id group by o.checkout_id`;
    return new Map(rows.map((r) => [r.checkout_id, r.qty]));
  } finally {
    await sql.end();
  }
}

function summary({
  report,
  replacements,
  loadSeconds,
  confirmed,
}: {
  report: LoadReport;
  replacements: Replacement[];
  loadSeconds: number;
  confirmed: number;
}): string {
  const sent = Object.values(report.sent).reduce((sum, n) => sum + n, 0);
  const lines = [
    `rolling restart under load: ${sent} requests in ${loadSeconds.toFixed(1)} s (${(sent / loadSeconds).toFixed(1)}/s), ${report.failures.length} failed; ${report.purchases.length} purchases, ${confirmed} orders; checkouts answered ${JSON.stringify(report.checkoutAnswers)}; ${report.sseReconnects} SSE streams reopened; scheduler lag ≤ ${report.maxLagMs.toFixed(0)} ms`,
    ...Object.entries(report.sent).map(([kind, n]) => `  ${kind}: ${n}`),
    "replacements (SIGTERM → exit, start → ready):",
    ...replacements.map(
      (r) =>
        `  ${r.replica}: stopped in ${(r.stopMs / 1000).toFixed(2)} s (exit ${r.exitCode}), ready in ${(r.startMs / 1000).toFixed(2)} s`,
    ),
  ];
  return lines.join("\n");
}
