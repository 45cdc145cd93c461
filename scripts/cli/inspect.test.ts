import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { waitFor } from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { shop } from "../../test/observability/shop.ts";
import { type Stack, startStack } from "../../test/support/stack.ts";
import { type MailSink, startMailSink } from "../lib/mail-sink.ts";
import type { Inspection } from "./inspect.ts";
import type { StuckCheckout } from "./stuck.ts";

const cli = fileURLToPath(new URL("../codflow.ts", import.meta.url));
const run = promisify(execFile);

let stack: Stack;
let smtp: MailSink;
let store: Awaited<ReturnType<typeof shop>>;

beforeAll(async () => {
  smtp = await startMailSink({ smtpPort: 0, httpPort: 0 });
  stack = await startStack({ env: { SMTP_URL: `smtp://127.0.0.1:${smtp.smtpPort}` } });
  store = await shop(stack);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await smtp?.close();
});

const codflow = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, ["--import", "tsx", cli, ...args], {
    env: {
      ...process.env,
      CHECKOUT_DATABASE_URL: stack.databases.checkout.url,
      INVENTORY_DATABASE_URL: stack.databases.inventory.url,
      ORDERS_DATABASE_URL: stack.databases.orders.url,
      NOTIFIER_DATABASE_URL: stack.databases.notifier.url,
      ...env,
    },
  });

const inspect = async (id: string): Promise<Inspection> =>
  JSON.parse((await codflow(["inspect", id, "--json"])).stdout);

describe("pnpm codflow inspect", () => {
  it("shows a confirmed checkout's saga across the four services, in order, under one trace", async () => {
    const placed = await store.checkout({ waitSeconds: 10 });
    expect(placed.status).toBe("confirmed");
    const x = await waitFor(
      async () => {
        const found = await inspect(placed.id);
        return found.notifications.some((n) => n.status === "sent") && found;
      },
      { what: "the confirmation email sent", timeoutMs: 20_000 },
    );

    const steps = x.timeline.map((e) => {
      const type = e.details.type ? ` ${e.details.type}` : "";
      return `${e.service} ${e.step}${type}`;
    });
    // orders keeps the contact details of checkout.requested while inventory reserves: the two
    // consumers run side by side, so that step's place is only bounded, not fixed
    const contacts = steps.indexOf("orders consume checkout.requested");
    expect(contacts).toBeGreaterThan(steps.indexOf("checkout emit checkout.requested"));
    expect(contacts).toBeLessThan(steps.indexOf("orders consume inventory.reserved"));
    expect(steps.filter((_, i) => i !== contacts)).toEqual([
      "checkout request",
      "checkout emit checkout.requested",
      "inventory consume checkout.requested",
      "inventory reservation",
      "inventory stock",
      "inventory emit inventory.reserved",
      "orders consume inventory.reserved",
      "orders order",
      "orders order-event",
      "orders emit orders.confirmed",
      "inventory consume orders.confirmed",
      "inventory reservation",
      "inventory stock",
      "inventory emit inventory.committed",
      "checkout consume inventory.committed",
      "checkout outcome",
      "checkout emit checkout.confirmed",
      "notifier consume checkout.confirmed",
      "notifier notification",
      "notifier notification-sent",
    ]);
    const times = x.timeline.map((e) => e.at);
    expect(times).toEqual([...times].sort());

    expect(x.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(x.traceIds).toEqual([x.traceId]);
    expect(x.events.map((e) => e.traceId)).toEqual(x.events.map(() => x.traceId));
    expect(x.checkout).toMatchObject({ status: "confirmed", redrives: 0, failure: null });
    expect(x.reservation).toMatchObject({ status: "committed", lines: [{ qty: 1 }] });
    expect(x.order).toMatchObject({ status: "confirmed", history: [{ to: "confirmed" }] });
    expect(x.notifications).toMatchObject([{ template: "order-confirmed", status: "sent" }]);
    for (const e of x.events) expect(e.publishedAt).not.toBeNull();

    const human = (await codflow(["inspect", placed.id])).stdout;
    expect(human).toContain(`trace ${x.traceId}`);
    expect(human).toContain("emitted orders.confirmed");
    expect(human).not.toContain(placed.buyer.email);
    expect(JSON.stringify(x)).not.toContain("@");
  });

  it("says so for an unknown checkout, a bad argument and an unreachable database", async () => {
    await expect(
      codflow(["inspect", "01a21300-0000-7000-8000-00000000dead"]),
    ).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining("no checkout") });
    await expect(codflow(["inspect", "not-a-uuid"])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining("not a checkout id"),
    });
    await expect(codflow(["inspect"])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining("usage"),
    });
    await expect(codflow(["stuck", "--older-than", "soon"])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining("--older-than"),
    });
    await expect(
      codflow(["stuck"], { CHECKOUT_DATABASE_URL: "postgres://nobody:secret@127.0.0.1:1/x" }),
    ).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/cannot reach the checkout database(?![^\n]*secret)/),
    });
  });
});

describe("pnpm codflow stuck", () => {
  it("lists a checkout held processing (inventory down), not a confirmed one", async () => {
    const confirmed = await store.checkout({ waitSeconds: 10 });
    expect(confirmed.status).toBe("confirmed");
    await stack.kill("inventory");
    const held = await store.checkout();
    expect(held.status).toBe("processing");

    const listed = await waitFor(
      async () => {
        const out = JSON.parse((await codflow(["stuck", "--older-than", "1", "--json"])).stdout);
        const rows = out.checkouts as StuckCheckout[];
        return rows.some((r) => r.id === held.id) && rows;
      },
      { what: "the held checkout listed as stuck", timeoutMs: 20_000 },
    );
    const row = listed.find((r) => r.id === held.id);
    expect(row?.ageSeconds).toBeGreaterThanOrEqual(1);
    expect(row?.redrives).toBeGreaterThanOrEqual(0);
    expect(listed.map((r) => r.id)).not.toContain(confirmed.id);

    const human = (await codflow(["stuck", "--older-than", "1"])).stdout;
    expect(human).toContain(held.id);
    expect(human).not.toContain(confirmed.id);
    const none = (await codflow(["stuck", "--older-than", "3600"])).stdout;
    expect(none).toContain("no checkout processing");
  });
});
