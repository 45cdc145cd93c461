import {
  type ConsumerSpec,
  contextStream,
  type Envelope,
  type EventData,
  type EventType,
  type RunningConsumer,
  startConsumer,
} from "@codflow/shared";
import { failingOnce, makeEnvelope, startTestPlatform, waitFor } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createOrdersMetrics,
  onCheckoutFailed,
  onCheckoutRequested,
  onInventoryReserved,
} from "../src/index.ts";
import { checkoutFailedData, requestedData, reservedData } from "./helpers.ts";

const CONTACTS = "orders.keep-checkout-contacts";
const CREATE_ORDER = "orders.create-order";
const ABORT = "orders.abort-checkout";

/**
 * An orders database and namespace whose consumers start only when the test says, so what was
 * published before reaches them as batches. `setBased: false` drops `handleBatch`: the same
 * consumers applying one event at a time, the reference a batch must match.
 */
async function startOrders({ setBased, vendorId }: { setBased: boolean; vendorId: string }) {
  const platform = await startTestPlatform("orders");
  await platform.sql`
    insert into vendors (id, name, slug, revision) values (${vendorId}, 'V', 'v', 1)`;
  const metrics = createOrdersMetrics(platform.metrics);
  const specs = {
    [CONTACTS]: onCheckoutRequested(),
    [CREATE_ORDER]: onInventoryReserved({ logger: platform.logger, metrics }),
    [ABORT]: onCheckoutFailed({ logger: platform.logger, metrics }),
  };
  /** The sizes of the batches each consumer's handleBatch was given. */
  const batches: Record<string, number[]> = { [CONTACTS]: [], [CREATE_ORDER]: [], [ABORT]: [] };
  const running: RunningConsumer[] = [];

  const recorded = <T extends EventType>(spec: ConsumerSpec<T>): ConsumerSpec<T> => {
    const { handleBatch, ...oneByOne } = spec;
    if (!setBased || !handleBatch) return oneByOne;
    return {
      ...oneByOne,
      handleBatch(events, tx) {
        batches[spec.name]?.push(events.length);
        return handleBatch(events, tx);
      },
    };
  };

  return {
    ...platform,
    batches,
    /** Publishes an event exactly as given (same id), under a fresh Msg-Id. */
    send: <T extends EventType>(envelope: Envelope<T, EventData<T>>) =>
      platform.publish(envelope.type, envelope.data, { envelope, msgID: uuidv7() }),
    /** Starts consumer `name`; it takes what was published before it started as batches. */
    /** `spec` stands in for the named consumer's own (the same durable), e.g. with a fault. */
    start(name: keyof typeof specs, spec = specs[name] as ConsumerSpec<EventType>) {
      running.push(
        startConsumer(platform.consumerDeps, recorded(spec), {
          batchSize: 50,
          baseBackoffMs: 100,
          maxBackoffMs: 500,
        }),
      );
    },
    async stopConsumers() {
      await Promise.all(running.splice(0).map((c) => c.stop()));
    },
    /** Waits until consumer `name` has no message left to handle, acknowledged or not. */
    async settled(name: keyof typeof specs) {
      await waitFor(
        async () => {
          const info = await platform.broker.jsm.consumers.info(
            contextStream(platform.namespace, specs[name].type),
            name.replace(/[^a-zA-Z0-9_-]/g, "_"),
          );
          return info.num_ack_pending === 0 && info.num_pending === 0;
        },
        { what: `${name} settled` },
      );
    },
    async close() {
      await Promise.all(running.splice(0).map((c) => c.stop()));
      await platform.close();
    },
  };
}

type Orders = Awaited<ReturnType<typeof startOrders>>;

/** Everything orders holds about its checkouts, without generated ids, numbers or times. */
async function stateOf(fx: Orders) {
  return {
    orders: await fx.sql`
      select checkout_id, reservation_id, customer_id, status, total_minor, currency, phone,
             shipping_address, customer_email, number ~ '^CF-[0-9]{6}$' as numbered
      from orders order by checkout_id`,
    items: await fx.sql`
      select o.checkout_id, i.line_no, i.variant_id, i.product_slug, i.vendor_id, i.sku, i.title,
             i.qty, i.unit_price_minor
      from order_items i join orders o on o.id = i.order_id order by 1, 2`,
    audit: await fx.sql`
      select o.checkout_id, e.actor, e.role, e.from_status, e.to_status, e.data
      from order_events e join orders o on o.id = e.order_id order by 1, e.id`,
    contacts: await fx.sql`
      select checkout_id, customer_email, phone, shipping_address
      from checkout_contacts order by checkout_id`,
    voided: await fx.sql`select checkout_id, reason from voided_checkouts order by checkout_id`,
    outbox: await fx.sql`
      select type, correlation_id, causation_id,
             (envelope->'data') - 'orderId' - 'orderNumber' as data,
             coalesce(envelope->'data'->>'orderId' = o.id::text
                      and envelope->'data'->>'orderNumber' = o.number, false) as names_its_order,
             published_at is null as unpublished, resends
      from outbox left join orders o on o.checkout_id::text = outbox.correlation_id
      order by correlation_id, type, causation_id`,
    inbox: await fx.sql`select consumer, event_id from inbox order by consumer, event_id`,
  };
}

type Checkout = {
  reserved: Envelope<"inventory.reserved", EventData<"inventory.reserved">>;
  requested: Envelope<"checkout.requested", EventData<"checkout.requested">>;
};

const vendorId = uuidv7();
let batched: Orders;
let oneByOne: Orders;
beforeAll(async () => {
  [batched, oneByOne] = await Promise.all([
    startOrders({ setBased: true, vendorId }),
    startOrders({ setBased: false, vendorId }),
  ]);
});
afterAll(async () => {
  await Promise.all([batched?.close(), oneByOne?.close()]);
});

/**
 * The first message a consumer takes is often handled before the rest of its fetch has been
 * queued: a test sends this checkout's events first, so the ones it is about go together.
 */
const leading = () => checkoutEvents();

/** A checkout's two events as orders receives them. */
const checkoutEvents = (): Checkout => {
  const reserved = makeEnvelope("inventory.reserved", reservedData(vendorId));
  return { reserved, requested: makeEnvelope("checkout.requested", requestedData(reserved.data)) };
};

describe("orders' consumers in set-based batches", () => {
  it("apply a batch exactly as one event at a time would: contacts, orders, items, audit, tombstones, outputs", async () => {
    const [a, b, c, voided, existing, keptOnly] = [1, 2, 3, 4, 5, 6].map(checkoutEvents) as [
      Checkout,
      Checkout,
      Checkout,
      Checkout,
      Checkout,
      Checkout,
    ];
    const aAgain = makeEnvelope("checkout.requested", {
      ...a.requested.data,
      phone: "+15555550199",
    });
    const existingAgain = makeEnvelope("inventory.reserved", existing.reserved.data);
    const failed = makeEnvelope(
      "checkout.failed",
      checkoutFailedData(voided.reserved.data.checkoutId),
    );

    for (const fx of [batched, oneByOne]) {
      // Before: one checkout already has its order (published), one already failed.
      for (const e of [existing.requested, existing.reserved, failed]) await fx.send(e);
      fx.start(CONTACTS);
      fx.start(CREATE_ORDER);
      fx.start(ABORT);
      for (const name of [CONTACTS, CREATE_ORDER, ABORT] as const) await fx.settled(name);
      await fx.stopConsumers();
      await fx.sql`update outbox set published_at = now()`;

      for (const e of [a, b, c].map((x) => x.requested)) await fx.send(e);
      for (const e of [aAgain, keptOnly.requested, voided.requested, existing.requested]) {
        await fx.send(e);
      }
      fx.start(CONTACTS);
      await fx.settled(CONTACTS);
      for (const e of [a, b, c, voided].map((x) => x.reserved)) await fx.send(e);
      await fx.send(existingAgain);
      fx.start(CREATE_ORDER);
      await fx.settled(CREATE_ORDER);
      await fx.stopConsumers();
    }

    expect(Math.max(...(batched.batches[CONTACTS] ?? []))).toBeGreaterThan(1);
    expect(Math.max(...(batched.batches[CREATE_ORDER] ?? []))).toBeGreaterThan(1);
    const state = await stateOf(batched);
    expect(state).toEqual(await stateOf(oneByOne));
    const checkoutOf = (x: Checkout) => x.reserved.data.checkoutId;
    expect(state.orders.map((o) => o.checkout_id).sort()).toEqual(
      [a, b, c, existing].map(checkoutOf).sort(),
    );
    expect(state.orders.every((o) => o.numbered)).toBe(true);
    expect(state.orders.find((o) => o.checkout_id === checkoutOf(a))?.phone).toBe("+15555550100");
    expect(state.items).toHaveLength(8);
    expect(state.contacts.map((r) => r.checkout_id)).toEqual([checkoutOf(keptOnly)]);
    const emitted = state.outbox.map((r) => [r.type, r.correlation_id, r.causation_id]);
    expect(emitted).toEqual(
      expect.arrayContaining([
        ...[a, b, c].map((x) => ["orders.confirmed", checkoutOf(x), x.reserved.id]),
        ["orders.failed", checkoutOf(voided), voided.reserved.id],
        ["orders.confirmed", checkoutOf(existing), existing.reserved.id],
      ]),
    );
    expect(state.outbox).toHaveLength(5);
    expect(
      state.outbox.filter((r) => r.type === "orders.confirmed").every((r) => r.names_its_order),
    ).toBe(true);
    expect(
      state.outbox.find((r) => r.correlation_id === checkoutOf(existing)),
      "the existing order's confirmation re-sent",
    ).toMatchObject({ unpublished: true, resends: 1 });
  });

  it("changes nothing for an event repeated within a batch or after it", async () => {
    const fx = batched;
    const [lead, x, y] = [leading(), checkoutEvents(), checkoutEvents()];
    const batchesBefore = fx.batches[CREATE_ORDER]?.length ?? 0;
    const duplicatesBefore = await fx.counter("codflow_consumer_messages_total", {
      consumer: CREATE_ORDER,
      result: "duplicate",
    });
    for (const e of [lead.requested, x.requested, y.requested, x.requested]) await fx.send(e);
    fx.start(CONTACTS);
    await fx.settled(CONTACTS);
    for (const e of [lead.reserved, x.reserved, x.reserved, y.reserved]) await fx.send(e);
    fx.start(CREATE_ORDER);
    await fx.settled(CREATE_ORDER);
    await fx.stopConsumers();
    expect(
      fx.batches[CREATE_ORDER]?.slice(batchesBefore).some((size) => size >= 2),
      "x and y applied in one batch",
    ).toBe(true);
    const ordersAfterBatch = await fx.sql`
      select id, number from orders where checkout_id in ${fx.sql([x.reserved.data.checkoutId, y.reserved.data.checkoutId])}
      order by checkout_id`;

    const xAgain = makeEnvelope("inventory.reserved", x.reserved.data);
    for (const e of [x.reserved, y.reserved, xAgain]) await fx.send(e);
    fx.start(CREATE_ORDER);
    await fx.settled(CREATE_ORDER);
    await fx.stopConsumers();

    expect(
      await fx.counter("codflow_consumer_messages_total", {
        consumer: CREATE_ORDER,
        result: "duplicate",
      }),
    ).toBe(duplicatesBefore + 3);
    expect(
      await fx.sql`
        select id, number from orders where checkout_id in ${fx.sql([x.reserved.data.checkoutId, y.reserved.data.checkoutId])}
        order by checkout_id`,
    ).toEqual(ordersAfterBatch);
    const emitted = await fx.sql`
      select correlation_id from outbox
      where correlation_id in ${fx.sql([x.reserved.data.checkoutId, y.reserved.data.checkoutId])}`;
    expect(emitted).toHaveLength(2);
    expect(
      await fx.sql`select 1 from checkout_contacts where checkout_id = ${x.reserved.data.checkoutId}`,
    ).toHaveLength(0);
  });

  it("keeps every checkout's contacts of a batch exactly once when one of them fails transiently", async () => {
    const fx = batched;
    const checkouts = [leading(), ...[1, 2, 3, 4, 5, 6].map(checkoutEvents)];
    const victim = checkouts[3]?.requested.id;
    const faulty = failingOnce(onCheckoutRequested(), (event) => event.id === victim);
    const deadLettersBefore = await fx.counter("codflow_dead_letters_total", {
      consumer: CONTACTS,
    });
    for (const x of checkouts) await fx.send(x.requested);

    fx.start(CONTACTS, faulty.spec as ConsumerSpec<EventType>);
    await fx.settled(CONTACTS);
    await fx.stopConsumers();

    expect(faulty.failedIn(), "the fault hit a set-based batch").toBe("batch");
    expect(faulty.attempts()).toBeGreaterThan(1);
    const checkoutIds = checkouts.map((x) => x.requested.data.checkoutId);
    const kept = await fx.sql`
      select checkout_id, phone from checkout_contacts where checkout_id in ${fx.sql(checkoutIds)}`;
    expect(kept.map((r) => r.checkout_id).sort()).toEqual([...checkoutIds].sort());
    const claimed = await fx.sql`
      select event_id from inbox
      where consumer = ${CONTACTS} and event_id in ${fx.sql(checkouts.map((x) => x.requested.id))}`;
    expect(claimed).toHaveLength(checkouts.length);
    expect(await fx.counter("codflow_dead_letters_total", { consumer: CONTACTS })).toBe(
      deadLettersBefore,
    );
  });

  it("creates every order of a batch exactly once when one of them fails transiently", async () => {
    const fx = batched;
    const checkouts = [leading(), ...[1, 2, 3, 4, 5, 6].map(checkoutEvents)];
    const victim = checkouts[3]?.reserved.id;
    const faulty = failingOnce(
      onInventoryReserved({ logger: fx.logger }),
      (event) => event.id === victim,
    );
    const deadLettersBefore = await fx.counter("codflow_dead_letters_total", {
      consumer: CREATE_ORDER,
    });
    for (const x of checkouts) await fx.send(x.requested);
    fx.start(CONTACTS);
    await fx.settled(CONTACTS);
    for (const x of checkouts) await fx.send(x.reserved);

    fx.start(CREATE_ORDER, faulty.spec as ConsumerSpec<EventType>);
    await fx.settled(CREATE_ORDER);
    await fx.stopConsumers();

    expect(faulty.failedIn(), "the fault hit a set-based batch").toBe("batch");
    expect(faulty.attempts()).toBeGreaterThan(1);
    const checkoutIds = checkouts.map((x) => x.reserved.data.checkoutId);
    const orders = await fx.sql`
      select checkout_id from orders where checkout_id in ${fx.sql(checkoutIds)}`;
    expect(orders.map((r) => r.checkout_id).sort()).toEqual([...checkoutIds].sort());
    const confirmed = await fx.sql`
      select correlation_id, causation_id from outbox
      where type = 'orders.confirmed' and correlation_id in ${fx.sql(checkoutIds)}`;
    expect(confirmed.map((r) => r.causation_id).sort()).toEqual(
      checkouts.map((x) => x.reserved.id).sort(),
    );
    expect(await fx.counter("codflow_dead_letters_total", { consumer: CREATE_ORDER })).toBe(
      deadLettersBefore,
    );
  });

  it("leaves a reservation that came before its contacts for later, and commits the rest of its batch together", async () => {
    const fx = batched;
    const [lead, early, q, r] = [leading(), ...[1, 2, 3].map(checkoutEvents)] as [
      Checkout,
      Checkout,
      Checkout,
      Checkout,
    ];
    const batchesBefore = fx.batches[CREATE_ORDER]?.length ?? 0;
    const retried = () =>
      fx.counter("codflow_consumer_messages_total", { consumer: CREATE_ORDER, result: "retry" });
    const retriesBefore = await retried();
    for (const e of [lead, q, r].map((x) => x.requested)) await fx.send(e);
    fx.start(CONTACTS);
    await fx.settled(CONTACTS);
    for (const e of [lead, early, q, r].map((x) => x.reserved)) await fx.send(e);

    fx.start(CREATE_ORDER);
    const orderOf = async (checkoutId: string) =>
      (await fx.sql`select status from orders where checkout_id = ${checkoutId}`)[0];
    for (const x of [q, r]) {
      await waitFor(() => orderOf(x.reserved.data.checkoutId), { what: "the others' orders" });
    }
    await waitFor(async () => (await retried()) > retriesBefore, {
      what: "the too-early reservation retried",
    });
    expect(
      fx.batches[CREATE_ORDER]?.slice(batchesBefore).some((size) => size >= 3),
      "the three tried as one batch",
    ).toBe(true);
    // one transaction: the inbox rows share its start time (one event at a time would not)
    const claimedAt = await fx.sql<{ at: Date }[]>`
      select distinct processed_at as at from inbox
      where consumer = ${CREATE_ORDER} and event_id in ${fx.sql([q.reserved.id, r.reserved.id])}`;
    expect(claimedAt).toHaveLength(1);
    expect(await orderOf(early.reserved.data.checkoutId)).toBeUndefined();
    expect(
      await fx.sql`select 1 from inbox where consumer = ${CREATE_ORDER} and event_id = ${early.reserved.id}`,
    ).toHaveLength(0);

    await fx.send(early.requested);
    await waitFor(() => orderOf(early.reserved.data.checkoutId), {
      timeoutMs: 20_000,
      what: "the early reservation's order, once its contacts came",
    });
    await fx.stopConsumers();
  });

  it("loses none of a batch when one event in it fails: the others are applied, the early one retried, the refused one dead-lettered", async () => {
    const fx = batched;
    const [lead, early, q, r, refused] = [leading(), ...[1, 2, 3, 4].map(checkoutEvents)] as [
      Checkout,
      Checkout,
      Checkout,
      Checkout,
      Checkout,
    ];
    const batchesBefore = fx.batches[CREATE_ORDER]?.length ?? 0;
    const badTotal = makeEnvelope("inventory.reserved", {
      ...refused.reserved.data,
      totalMinor: 1,
    });
    const retriesBefore = await fx.counter("codflow_consumer_messages_total", {
      consumer: CREATE_ORDER,
      result: "retry",
    });
    for (const e of [lead, q, r, refused].map((x) => x.requested)) await fx.send(e);
    fx.start(CONTACTS);
    await fx.settled(CONTACTS);
    for (const e of [lead.reserved, early.reserved, q.reserved, badTotal, r.reserved]) {
      await fx.send(e);
    }

    fx.start(CREATE_ORDER);
    const orderOf = async (checkoutId?: string) =>
      (await fx.sql`select status from orders where checkout_id = ${checkoutId ?? ""}`)[0];
    for (const x of [q, r]) {
      await waitFor(() => orderOf(x.reserved.data.checkoutId), { what: "the others' orders" });
    }
    await waitFor(
      async () =>
        (await fx.counter("codflow_consumer_messages_total", {
          consumer: CREATE_ORDER,
          result: "retry",
        })) > retriesBefore,
      { what: "the too-early reservation retried" },
    );
    const [compensation] = await waitFor(
      async () => {
        const rows = await fx.sql`select type from outbox where causation_id = ${badTotal.id}`;
        return rows.length > 0 && rows;
      },
      { what: "the refused reservation dead-lettered with orders.failed" },
    );
    expect(compensation?.type).toBe("orders.failed");
    expect(
      fx.batches[CREATE_ORDER]?.slice(batchesBefore).some((size) => size >= 4),
      "the four tried as one batch first",
    ).toBe(true);
    expect(await orderOf(refused.reserved.data.checkoutId)).toBeUndefined();
    expect(await orderOf(early.reserved.data.checkoutId)).toBeUndefined();

    fx.start(CONTACTS);
    await fx.send(early.requested);
    await waitFor(() => orderOf(early.reserved.data.checkoutId), {
      timeoutMs: 20_000,
      what: "the early reservation's order, once its contacts came",
    });
    await fx.stopConsumers();
  });
});
