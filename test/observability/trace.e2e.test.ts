import { waitFor } from "@codflow/shared/testing";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MailSink, startMailSink } from "../../scripts/lib/mail-sink.ts";
import { SERVICES, type Stack, startStack } from "../support/stack.ts";
import { type ReceivedSpan, startOtlpReceiver } from "./otlp-receiver.ts";
import { shop } from "./shop.ts";

let stack: Stack;
let smtp: MailSink;
let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  smtp = await startMailSink({ smtpPort: 0, httpPort: 0 });
  stack = await startStack({
    env: {
      SMTP_URL: `smtp://127.0.0.1:${smtp.smtpPort}`,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      // export every 200 ms instead of every 5 s, so the test waits for spans, not for a timer
      OTEL_BSP_SCHEDULE_DELAY: "200",
    },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await smtp?.close();
  await receiver?.close();
});

/** The trace id checkout stored with the checkout's first event (its outbox `traceparent`). */
async function traceIdOf(checkoutId: string) {
  const sql = postgres(stack.databases.checkout.url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ traceparent: string | null }[]>`
      select headers->>'traceparent' as traceparent from outbox
      where correlation_id = ${checkoutId} and type = 'checkout.requested'`;
    return row?.traceparent?.split("-")[1] ?? null;
  } finally {
    await sql.end();
  }
}

const describeTree = (spans: ReceivedSpan[]) =>
  spans
    .map((s) => `${s.service}: ${s.name} ${s.spanId} <- ${s.parentSpanId ?? "(root)"}`)
    .join("\n");

describe("one checkout is one trace across every process", () => {
  it("links the spans of checkout, inventory, orders and notifier into one tree", async () => {
    const store = await shop(stack);
    const placed = await store.checkout({ waitSeconds: 10 });
    expect(placed.status).toBe("confirmed");
    const traceId = await traceIdOf(placed.id);
    expect(traceId, "checkout.requested carries a traceparent").toMatch(/^[0-9a-f]{32}$/);

    // The last hop is notifier consuming checkout.confirmed; wait until its span and every
    // parent named by the trace's spans have arrived (each process exports on its own timer).
    const spans = await waitFor(
      () => {
        const found = receiver.spans.filter((s) => s.traceId === traceId);
        const ids = new Set(found.map((s) => s.spanId));
        const services = new Set(found.map((s) => s.service));
        const complete =
          SERVICES.every((s) => services.has(s)) &&
          found.some((s) => s.service === "notifier" && s.name === "process checkout.confirmed") &&
          found.every((s) => s.parentSpanId === null || ids.has(s.parentSpanId));
        return complete && found;
      },
      {
        timeoutMs: 20_000,
        intervalMs: 100,
        what: `the spans of trace ${traceId} from all four services (receiver refused: ${receiver.refused.join("; ") || "nothing"})`,
      },
    ).catch((err: Error) => {
      const found = receiver.spans.filter((s) => s.traceId === traceId);
      throw new Error(`${err.message}\nspans so far:\n${describeTree(found)}`);
    });

    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const roots = spans.filter((s) => s.parentSpanId === null);
    expect(roots, describeTree(spans)).toHaveLength(1);
    for (const s of spans) {
      if (s.parentSpanId !== null) expect(byId.has(s.parentSpanId), describeTree(spans)).toBe(true);
    }
    // every span reaches the one root (no cycles, no detached sub-tree)
    const root = roots[0] as ReceivedSpan;
    for (const s of spans) {
      let at: ReceivedSpan | undefined = s;
      for (let hops = 0; at && at !== root && hops <= spans.length; hops++)
        at = at.parentSpanId ? byId.get(at.parentSpanId) : undefined;
      expect(at, `${s.service}: ${s.name} reaches the root`).toBe(root);
    }

    const names = spans.map((s) => `${s.service}: ${s.name}`);
    for (const hop of [
      "inventory: process checkout.requested",
      "orders: process inventory.reserved",
      "inventory: process orders.confirmed",
      "checkout: process inventory.committed",
      "notifier: process checkout.confirmed",
    ])
      expect(names, describeTree(spans)).toContain(hop);
    for (const type of [
      "checkout.requested",
      "inventory.reserved",
      "orders.confirmed",
      "inventory.committed",
      "checkout.confirmed",
    ])
      expect(
        names.some((n) => n.endsWith(`publish ${type}`)),
        `publish ${type}`,
      ).toBe(true);
    // The root is the HTTP request that accepted the checkout (the gateway's, when it traces).
    expect(["checkout", "gateway"]).toContain(root.service);
  });
});
