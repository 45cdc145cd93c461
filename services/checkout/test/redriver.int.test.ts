import {
  createDatabase,
  createMetrics,
  startOutboxRelay,
  streamName,
  subjectFor,
} from "@codflow/shared";
import { waitFor } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CheckoutMetrics, createCheckoutMetrics, startRedriver } from "../src/index.ts";
import {
  type CheckoutFixture,
  type CheckoutJson,
  customerWithCart,
  json,
  outboxEvents,
  startCheckoutFixture,
} from "./helpers.ts";

const STALLED_AFTER_SECONDS = 60;
const DEADLINE_SECONDS = 600;
const config = {
  CHECKOUT_REDRIVE_INTERVAL_MS: 50,
  CHECKOUT_REDRIVE_AFTER_SECONDS: STALLED_AFTER_SECONDS,
  CHECKOUT_DEADLINE_SECONDS: DEADLINE_SECONDS,
};

let fx: CheckoutFixture;
/** Two re-drivers, as two replicas would run them: each on its own pool and registry. */
let redriverMetrics: CheckoutMetrics[];

beforeAll(async () => {
  fx = await startCheckoutFixture();
  fx.track(startOutboxRelay({ ...fx.consumerDeps, pollMs: 50 }));
  const replica = createDatabase(fx.databaseUrl, { max: 4 });
  const replicaMetrics = createCheckoutMetrics(createMetrics("checkout-replica-2"));
  redriverMetrics = [fx.checkoutMetrics, replicaMetrics];
  // small batches keep both re-drivers claiming at the same moment
  const common = { config, namespace: fx.namespace, logger: fx.logger, batchSize: 3 };
  fx.track(startRedriver({ ...common, sql: fx.sql, metrics: fx.checkoutMetrics }));
  const second = startRedriver({ ...common, sql: replica.sql, metrics: replicaMetrics });
  fx.track({
    stop: async () => {
      await second.stop();
      await replica.close();
    },
  });
});
afterAll(() => fx.close());

const requestSubject = () => subjectFor(fx.namespace, "checkout.requested");
const checkoutStream = () => streamName(fx.namespace, "checkout");

/** Every `checkout.requested` message on the stream: sequence, Nats-Msg-Id and event id. */
async function requestsOnStream() {
  const info = await fx.broker.jsm.streams.info(checkoutStream());
  if (info.state.messages === 0) return [];
  // nats-server 2.9 has no filter_subjects: read the whole (small) stream, keep the requests
  const messages = await (await fx.broker.js.consumers.get(checkoutStream())).consume();
  const found: { seq: number; msgId: string | undefined; eventId: string }[] = [];
  for await (const msg of messages) {
    if (msg.subject === requestSubject()) {
      found.push({
        seq: msg.seq,
        msgId: msg.headers?.get("Nats-Msg-Id"),
        eventId: msg.json<{ id: string }>().id,
      });
    }
    if (msg.info.pending === 0) break;
  }
  await messages.close();
  return found;
}

/** A checkout processing, its `checkout.requested` already published by the relay. */
async function publishedCheckout() {
  const { shopper } = await customerWithCart(fx);
  const { id } = await json<CheckoutJson>(await shopper.checkout(uuidv7()));
  const requestId = await waitFor(
    async () => {
      const [row] = await fx.sql<{ id: string; publishedAt: string | null }[]>`
        select id, published_at as "publishedAt" from outbox
        where type = 'checkout.requested' and correlation_id = ${id}`;
      return row?.publishedAt ? row.id : undefined;
    },
    { what: "checkout.requested published" },
  );
  return { shopper, checkoutId: id, requestId };
}

const stall = (ids: string[]) => fx.sql`
  update checkouts
  set last_progress_at = now() - make_interval(secs => ${STALLED_AFTER_SECONDS + 1})
  where id = any(${ids}::uuid[])`;

const redriveState = (ids: string[]) => fx.sql<{ redrives: number; resends: number }[]>`
  select c.redrives, o.resends
  from checkouts c join outbox o on o.correlation_id = c.id::text and o.type = 'checkout.requested'
  where c.id = any(${ids}::uuid[])`;

/** A counter summed over both re-drivers. */
const total = async (counter: "redrives" | "timedOut") => {
  let sum = 0;
  for (const m of redriverMetrics) for (const v of (await m[counter].get()).values) sum += v.value;
  return sum;
};

describe("the re-driver", () => {
  it("re-sends the checkout.requested of a stalled checkout: the same event arrives again as <id>:1", async () => {
    const { checkoutId, requestId } = await publishedCheckout();
    const original = await waitFor(
      async () => (await requestsOnStream()).find((m) => m.eventId === requestId),
      { what: "the request on the stream" },
    );
    expect(original.msgId).toBe(requestId);
    await fx.broker.jsm.streams.deleteMessage(checkoutStream(), original.seq);

    await stall([checkoutId]);

    const resent = await waitFor(
      async () => {
        const copies = (await requestsOnStream()).filter(
          (m) => m.eventId === requestId && m.seq > original.seq,
        );
        return copies.length > 0 && copies;
      },
      { what: "the request re-sent" },
    );
    expect(resent.map((m) => m.msgId)).toEqual([`${requestId}:1`]);
    expect(await redriveState([checkoutId])).toEqual([{ redrives: 1, resends: 1 }]);
    const [checkout] = await fx.sql`
      select status, last_progress_at > now() - interval '10 seconds' as "justProgressed"
      from checkouts where id = ${checkoutId}`;
    expect(checkout).toEqual({ status: "processing", justProgressed: true });
  });

  it("re-drives each stalled checkout once per round with two re-drivers on two pools", async () => {
    const checkouts = await Promise.all(Array.from({ length: 30 }, () => publishedCheckout()));
    const ids = checkouts.map((c) => c.checkoutId);
    const before = await total("redrives");

    await stall(ids);

    await waitFor(
      async () => (await redriveState(ids)).every((r) => r.redrives > 0 && r.resends > 0),
      { what: "every stalled checkout re-driven" },
    );
    await waitFor(
      async () => {
        const [row] = await fx.sql`
          select count(*)::int as n from outbox
          where type = 'checkout.requested' and correlation_id = any(${ids}::text[])
            and published_at is null`;
        return row?.n === 0;
      },
      { what: "the re-sent requests published" },
    );
    const state = await redriveState(ids);
    expect(state).toHaveLength(ids.length);
    expect(state.every((r) => r.redrives === 1 && r.resends === 1)).toBe(true);
    expect((await total("redrives")) - before).toBe(ids.length);
  });

  it("leaves a checkout that is making progress alone", async () => {
    const { checkoutId } = await publishedCheckout();
    const stalledOne = await publishedCheckout();

    await stall([stalledOne.checkoutId]);
    await waitFor(async () => (await redriveState([stalledOne.checkoutId]))[0]?.redrives === 1, {
      what: "the stalled one re-driven",
    });

    expect(await redriveState([checkoutId])).toEqual([{ redrives: 0, resends: 0 }]);
  });
});

describe("the deadline", () => {
  it("fails a checkout past its deadline with timed_out exactly once under two re-drivers, wakes a Prefer: wait request and frees its COD slot", async () => {
    const { shopper } = await customerWithCart(fx, "ada@example.com");
    const before = await total("timedOut");
    const answer = shopper.checkout(uuidv7(), undefined, { prefer: "wait=10" });
    const checkoutId = await waitFor(
      async () => {
        const [row] = await fx.sql<{ id: string }[]>`
          select id from checkouts where customer_id = ${shopper.id}`;
        return row?.id;
      },
      { what: "the checkout committed" },
    );
    await waitFor(() => fx.statusWatch.waiterCount() === 1, { what: "the request waiting" });

    await fx.sql`
      update checkouts set created_at = now() - make_interval(secs => ${DEADLINE_SECONDS + 1})
      where id = ${checkoutId}`;

    const res = await answer;
    expect(res.status).toBe(200);
    const checkout = await json<CheckoutJson>(res);
    expect(checkout).toMatchObject({ id: checkoutId, status: "failed" });
    expect(checkout.failure?.reason).toBe("timed_out");
    expect(checkout.failure?.detail).toMatch(/could not complete your order in time/);
    const failed = await outboxEvents(fx, "checkout.failed", checkoutId);
    expect(failed.map((e) => e.data)).toEqual([
      {
        checkoutId,
        customerId: shopper.id,
        customerEmail: "ada@example.com",
        reason: "timed_out",
        detail: checkout.failure?.detail,
      },
    ]);
    expect((await total("timedOut")) - before).toBe(1);
    expect(await redriveState([checkoutId])).toEqual([{ redrives: 0, resends: 0 }]);
    const slots = await fx.sql`select 1 from cod_active_orders where checkout_id = ${checkoutId}`;
    expect(slots).toHaveLength(0);
  });
});
