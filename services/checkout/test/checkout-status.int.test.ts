import { createDatabase, createMetrics } from "@codflow/shared";
import { metricValue, scrapeMetrics, waitFor } from "@codflow/shared/testing";
import postgres from "postgres";
import { v7 as uuidv7 } from "uuid";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CHECKOUT_STATUS_CHANNEL } from "../src/db/checkout-outcomes.ts";
import { createApp, startStatusWatch } from "../src/index.ts";
import { waitForOutcome } from "../src/status-watch.ts";
import {
  type CheckoutFixture,
  type CheckoutJson,
  customerWithCart,
  inventoryCommittedFor,
  json,
  sseReader,
  startCheckoutFixture,
} from "./helpers.ts";

let fx: CheckoutFixture;
beforeAll(async () => {
  fx = await startCheckoutFixture({ consumers: true });
});
afterAll(() => fx.close());
afterEach(async () => {
  await waitFor(() => fx.statusWatch.waiterCount() === 0, { what: "no waiter left behind" });
});

/** Rejects when `promise` takes longer than `ms`: proves a wake-up came from a notification. */
const within = <T>(ms: number, promise: Promise<T>) =>
  Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`not within ${ms} ms`)), ms),
    ),
  ]);

/** What the caller that just accepted `checkout` knows of it: processing since it was created. */
const processingView = (checkout: CheckoutJson) => ({
  id: checkout.id,
  status: "processing" as const,
  totalMinor: checkout.totalMinor,
  currency: checkout.currency,
  createdAt: checkout.createdAt,
  updatedAt: checkout.createdAt,
});

async function cartReadyToOrder() {
  const cart = await customerWithCart(fx);
  const confirm = (checkoutId: string) =>
    fx.publish(
      "inventory.committed",
      inventoryCommittedFor(checkoutId, cart.shopper.id, [
        { variant: cart.mug, qty: 2 },
        { variant: cart.spoon, qty: 1 },
      ]),
      { correlationId: checkoutId },
    );
  const committedCheckoutId = () =>
    waitFor(
      async () => {
        const [row] = await fx.sql<{ id: string }[]>`
          select id from checkouts where customer_id = ${cart.shopper.id}`;
        return row?.id;
      },
      { what: "the checkout committed" },
    );
  return { ...cart, confirm, committedCheckoutId };
}

describe("POST /v1/checkouts with Prefer: wait", () => {
  it("answers 200 with the confirmed checkout once the order is confirmed", async () => {
    const { shopper, confirm, committedCheckoutId } = await cartReadyToOrder();

    const answer = shopper.checkout("key-1", undefined, { prefer: "wait=10" });
    const checkoutId = await committedCheckoutId();
    const { data } = await confirm(checkoutId);
    const res = await answer;

    expect(res.status).toBe(200);
    expect(res.headers.get("preference-applied")).toBe("wait=10");
    expect(res.headers.get("location")).toBe(`/v1/checkouts/${checkoutId}`);
    expect(await json<CheckoutJson>(res)).toMatchObject({
      id: checkoutId,
      status: "confirmed",
      orderId: data.orderId,
      orderNumber: data.orderNumber,
    });
  });

  it("answers the usual 202 when no outcome comes in time", async () => {
    const { shopper } = await cartReadyToOrder();
    const started = Date.now();

    const res = await shopper.checkout("key-1", undefined, { prefer: "wait=1" });

    expect(res.status).toBe(202);
    expect(await json<CheckoutJson>(res)).toMatchObject({ status: "processing" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it("answers a replay of a key whose checkout is confirmed with the waited answer at once", async () => {
    const { shopper, confirm } = await cartReadyToOrder();
    const { id } = await json<CheckoutJson>(await shopper.checkout("key-1"));
    await confirm(id);
    await waitFor(() => checkoutStatus(id, "confirmed"), { what: "confirmed" });

    const replay = await shopper.checkout("key-1", undefined, { prefer: "wait=10" });

    expect(replay.status).toBe(200);
    expect(await json<CheckoutJson>(replay)).toMatchObject({ id, status: "confirmed" });
  });
});

const checkoutStatus = async (id: string, status: string) => {
  const [row] = await fx.sql`select status from checkouts where id = ${id}`;
  return row?.status === status;
};

describe("GET /v1/checkouts/:id/events", () => {
  it("streams processing, then confirmed, then closes", async () => {
    const { shopper, confirm } = await cartReadyToOrder();
    const { id } = await json<CheckoutJson>(await shopper.checkout("key-1"));

    const res = await shopper.call("GET", `/v1/checkouts/${id}/events`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const events = sseReader(res.body as ReadableStream<Uint8Array>);
    expect(await events.next()).toEqual({
      event: "status",
      data: expect.objectContaining({ id, status: "processing" }),
    });
    const { data } = await confirm(id);
    expect(await events.next()).toEqual({
      event: "status",
      data: expect.objectContaining({ id, status: "confirmed", orderId: data.orderId }),
    });
    expect(await events.next()).toBeUndefined();
  });

  it("streams a checkout already terminal as one event and closes", async () => {
    const { shopper, confirm } = await cartReadyToOrder();
    const { id } = await json<CheckoutJson>(await shopper.checkout("key-1"));
    await confirm(id);
    await waitFor(() => checkoutStatus(id, "confirmed"), { what: "confirmed" });

    const res = await shopper.call("GET", `/v1/checkouts/${id}/events`);
    const events = sseReader(res.body as ReadableStream<Uint8Array>);

    expect((await events.next())?.data).toMatchObject({ status: "confirmed" });
    expect(await events.next()).toBeUndefined();
  });

  it("removes the waiter when the client disconnects", async () => {
    const { shopper } = await cartReadyToOrder();
    const { id } = await json<CheckoutJson>(await shopper.checkout("key-1"));
    const res = await shopper.call("GET", `/v1/checkouts/${id}/events`);
    const events = sseReader(res.body as ReadableStream<Uint8Array>);
    await events.next();
    expect(fx.statusWatch.waiterCount()).toBe(1);
    expect(metricValue(await scrapeMetrics(fx.app), "codflow_checkout_status_watches")).toBe(1);

    await events.cancel();

    await waitFor(() => fx.statusWatch.waiterCount() === 0, { what: "the waiter removed" });
    expect(metricValue(await scrapeMetrics(fx.app), "codflow_checkout_status_watches")).toBe(0);
  });

  it("sees a change whose notification was lost, by the periodic re-read", async () => {
    const { shopper } = await cartReadyToOrder();
    const { id } = await json<CheckoutJson>(await shopper.checkout("key-1"));
    const res = await shopper.call("GET", `/v1/checkouts/${id}/events`);
    const events = sseReader(res.body as ReadableStream<Uint8Array>);
    await events.next();

    await fx.sql`
      update checkouts set status = 'failed', failure_reason = 'timed_out', failure_detail = 'test',
             updated_at = now(), completed_at = now()
      where id = ${id}`;

    expect((await within(3000, events.next()))?.data).toMatchObject({
      status: "failed",
      failure: { reason: "timed_out" },
    });
    expect(await events.next()).toBeUndefined();
  });
});

describe("a wait that starts from the checkout its caller just accepted", () => {
  it("still answers an outcome committed before the waiter registered, by the periodic re-read", async () => {
    const statusWatch = startStatusWatch({ sql: fx.sql, logger: fx.logger, pollMs: 200 });
    try {
      const { shopper } = await cartReadyToOrder();
      const accepted = await json<CheckoutJson>(await shopper.checkout("key-1"));
      const known = await json<CheckoutJson>(
        await shopper.call("GET", `/v1/checkouts/${accepted.id}`),
      );
      await fx.sql`
        update checkouts set status = 'failed', failure_reason = 'timed_out',
               failure_detail = 'test', updated_at = now(), completed_at = now()
        where id = ${accepted.id}`;

      const outcome = await within(
        3000,
        waitForOutcome(statusWatch, accepted.id, {
          ms: 10_000,
          signal: new AbortController().signal,
          known: processingView(known),
        }),
      );

      expect(outcome).toMatchObject({ status: "failed", failure: { reason: "timed_out" } });
    } finally {
      await statusWatch.close();
    }
  });
});

describe("the status watch's periodic re-read", () => {
  it("re-reads only the checkouts no notification answered within pollMs", async () => {
    // the watched ids of every re-read this watch sends (its query: `where id = any($1)`)
    const reads: string[][] = [];
    const sql = postgres(fx.databaseUrl, {
      max: 2,
      onnotice: () => {},
      debug: (_connection, query, parameters) => {
        if (query.includes("from checkouts where id = any")) reads.push(parameters[0] as string[]);
      },
    });
    const statusWatch = startStatusWatch({ sql, logger: fx.logger, pollMs: 500 });
    const stop = new AbortController();
    try {
      const watched = [];
      for (const key of ["busy", "quiet"]) {
        const { shopper } = await cartReadyToOrder();
        const accepted = await json<CheckoutJson>(await shopper.checkout(`key-${key}`));
        watched.push(accepted);
      }
      const [busy, quiet] = watched as [CheckoutJson, CheckoutJson];
      const waits = watched.map((c) =>
        waitForOutcome(statusWatch, c.id, {
          ms: 10_000,
          signal: stop.signal,
          known: processingView(c),
        }),
      );
      // `busy` hears about itself every 50 ms (its status unchanged), `quiet` never
      const deadline = performance.now() + 1600;
      while (performance.now() < deadline) {
        await fx.sql`select pg_notify(${CHECKOUT_STATUS_CHANNEL}, ${busy.id})`;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      stop.abort();
      await Promise.all(waits);

      expect(reads.some((ids) => ids.includes(quiet.id))).toBe(true);
      expect(reads.some((ids) => ids.includes(busy.id))).toBe(true);
      expect(reads.filter((ids) => ids.includes(busy.id) && ids.includes(quiet.id))).toEqual([]);
    } finally {
      stop.abort();
      await statusWatch.close();
      await sql.end();
    }
  });
});

describe("the status watch across replicas", () => {
  /** A second checkout process on the same database: its own pool, LISTEN and app. */
  async function secondReplica({ pollMs }: { pollMs: number }) {
    const database = createDatabase(fx.databaseUrl, { max: 4 });
    const statusWatch = startStatusWatch({ sql: database.sql, logger: fx.logger, pollMs });
    const metrics = createMetrics("checkout-replica-2");
    const app = createApp({ ...fx.deps, sql: database.sql, metrics, statusWatch });
    return {
      app,
      statusWatch,
      close: async () => {
        await statusWatch.close();
        await database.close();
      },
    };
  }

  it("wakes a waiter on another replica through the notification", async () => {
    const replica = await secondReplica({ pollMs: 60_000 });
    try {
      const { shopper, confirm } = await cartReadyToOrder();
      const { id } = await json<CheckoutJson>(await shopper.checkout("key-1"));
      const res = await replica.app.request(`/v1/checkouts/${id}/events`, {
        headers: { authorization: `Bearer ${shopper.token}` },
      });
      const events = sseReader(res.body as ReadableStream<Uint8Array>);
      await events.next();

      await confirm(id);

      expect((await within(5000, events.next()))?.data).toMatchObject({ status: "confirmed" });
      expect(await events.next()).toBeUndefined();
      expect(replica.statusWatch.waiterCount()).toBe(0);
    } finally {
      await replica.close();
    }
  });

  it("ends open streams when the watch closes, as on SIGTERM", async () => {
    const replica = await secondReplica({ pollMs: 1000 });
    try {
      const { shopper } = await cartReadyToOrder();
      const { id } = await json<CheckoutJson>(await shopper.checkout(uuidv7()));
      const res = await replica.app.request(`/v1/checkouts/${id}/events`, {
        headers: { authorization: `Bearer ${shopper.token}` },
      });
      const events = sseReader(res.body as ReadableStream<Uint8Array>);
      await events.next();

      await replica.statusWatch.close();

      expect(await within(2000, events.next())).toBeUndefined();
      expect(replica.statusWatch.waiterCount()).toBe(0);
    } finally {
      await replica.close();
    }
  });
});
