import { isDeepStrictEqual } from "node:util";
import {
  type ConsumerSpec,
  contextStream,
  createMetrics,
  type Envelope,
  type EventData,
  type RunningConsumer,
  startConsumer,
} from "@codflow/shared";
import { failingOnce, makeEnvelope, waitFor } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { markCheckoutFailed } from "../src/db/checkout-outcomes.ts";
import { createApp, onInventoryCommitted, startStatusWatch } from "../src/index.ts";
import {
  type CheckoutFixture,
  type CheckoutJson,
  checkoutBody,
  customerWithCart,
  givenVariant,
  inventoryCommittedFor,
  json,
  outboxEvents,
  startCheckoutFixture,
} from "./helpers.ts";

const CONFIRM = "checkout.on-inventory-committed";
type Committed = Envelope<"inventory.committed", EventData<"inventory.committed">>;

let fx: CheckoutFixture;
let running: RunningConsumer | undefined;
/** The sizes of the batches handleBatch was given. */
const batches: number[] = [];

beforeAll(async () => {
  fx = await startCheckoutFixture();
});
afterAll(async () => {
  await running?.stop();
  await fx?.close();
});

/** The real consumer, set-based (recording its batches) or with `handleBatch` dropped. */
function confirmConsumer({ setBased }: { setBased: boolean }): ConsumerSpec<"inventory.committed"> {
  const { handleBatch, ...oneByOne } = onInventoryCommitted({
    logger: fx.logger,
    metrics: fx.checkoutMetrics,
  });
  if (!setBased || !handleBatch) return oneByOne;
  return {
    ...oneByOne,
    handleBatch(events, tx) {
      batches.push(events.length);
      return handleBatch(events, tx);
    },
  };
}

/**
 * Publishes `events` (each under a fresh Msg-Id, so a repeat is a redelivery), then starts the
 * consumer, which takes them as batches, and waits until it has settled every one.
 */
async function deliver(
  events: Committed[],
  { setBased = true, spec = confirmConsumer({ setBased }) } = {},
) {
  for (const e of events) await fx.publish(e.type, e.data, { envelope: e, msgID: uuidv7() });
  running = startConsumer(fx.consumerDeps, spec, {
    batchSize: 50,
    baseBackoffMs: 50,
  });
  await waitFor(
    async () => {
      const info = await fx.broker.jsm.consumers.info(
        contextStream(fx.namespace, "inventory.committed"),
        CONFIRM.replace(/[^a-zA-Z0-9_-]/g, "_"),
      );
      return info.num_ack_pending === 0 && info.num_pending === 0;
    },
    { what: `${CONFIRM} settled` },
  );
  await running.stop();
  running = undefined;
}

/** A customer with 2 mugs and a spoon in the cart and a checkout of them processing. */
async function processingCheckout() {
  const email = `${uuidv7()}@example.com`;
  const cart = await customerWithCart(fx, email);
  const { id } = await json<CheckoutJson>(await cart.shopper.checkout(uuidv7()));
  const committed = makeEnvelope(
    "inventory.committed",
    inventoryCommittedFor(id, cart.shopper.id, [
      { variant: cart.mug, qty: 2 },
      { variant: cart.spoon, qty: 1 },
    ]),
  );
  return { ...cart, email, checkoutId: id, committed };
}

/**
 * Four checkouts whose inventory.committed arrive together: one whose cart grew meanwhile, a
 * plain one, one that failed meanwhile, one whose spoon line the customer removed meanwhile.
 * Returns, per checkout, everything the consumer decides, with generated ids left out.
 */
async function confirmFour({ setBased }: { setBased: boolean }) {
  const lead = await processingCheckout();
  const [grown, plain, failed, shrunk] = [
    await processingCheckout(),
    await processingCheckout(),
    await processingCheckout(),
    await processingCheckout(),
  ];
  const fork = await givenVariant(fx, { title: "Fork" });
  await grown.shopper.addLine(grown.mug.variantId, 1);
  await grown.shopper.addLine(fork.variantId, 4);
  await fx.sql.begin((tx) =>
    markCheckoutFailed(tx, {
      checkoutId: failed.checkoutId,
      reason: "timed_out",
      detail: "took too long",
    }),
  );
  await shrunk.shopper.call("DELETE", `/v1/cart/lines/${shrunk.spoonLine.id}`);
  const lateBefore = await fx.counter("codflow_checkout_late_outcomes_total", {
    event: "inventory.committed",
    state: "failed",
  });

  await deliver(
    [lead, grown, plain, failed, shrunk].map((c) => c.committed),
    { setBased },
  );

  const outcomes = [];
  for (const c of [grown, plain, failed, shrunk]) {
    const checkout = await json<CheckoutJson>(
      await c.shopper.call("GET", `/v1/checkouts/${c.checkoutId}`),
    );
    const emitted = await outboxEvents(fx, "checkout.confirmed", c.checkoutId);
    const data = c.committed.data;
    outcomes.push({
      status: checkout.status,
      order: checkout.orderId === data.orderId && checkout.orderNumber === data.orderNumber,
      cart: (await c.shopper.cart()).lines.map((l) => [
        l.variantId === c.mug.variantId ? "mug" : l.variantId === fork.variantId ? "fork" : "?",
        l.qty,
      ]),
      emitted: emitted.map((e) => ({
        causedByItsEvent: e.causationId === c.committed.id,
        dataAsExpected: isDeepStrictEqual(e.data, {
          checkoutId: c.checkoutId,
          customerId: c.shopper.id,
          customerEmail: c.email,
          orderId: data.orderId,
          orderNumber: data.orderNumber,
          items: data.items,
          totalMinor: data.totalMinor,
          currency: data.currency,
        }),
      })),
    });
  }
  const late =
    (await fx.counter("codflow_checkout_late_outcomes_total", {
      event: "inventory.committed",
      state: "failed",
    })) - lateBefore;
  return { outcomes, late };
}

describe("checkout.on-inventory-committed in set-based batches", () => {
  it("applies a batch exactly as one event at a time would: checkouts confirmed, ordered quantities out of the carts, one checkout.confirmed each, a late outcome recorded", async () => {
    const batchesBefore = batches.length;
    const batched = await confirmFour({ setBased: true });
    const oneByOne = await confirmFour({ setBased: false });

    expect(batches.slice(batchesBefore).some((size) => size > 1)).toBe(true);
    expect(batched).toEqual(oneByOne);
    const [grown, plain, failed, shrunk] = batched.outcomes;
    expect(grown).toMatchObject({
      status: "confirmed",
      order: true,
      cart: [
        ["mug", 1],
        ["fork", 4],
      ],
    });
    expect(plain).toMatchObject({ status: "confirmed", order: true, cart: [] });
    expect(failed).toMatchObject({
      status: "failed",
      cart: [
        ["mug", 2],
        ["?", 1],
      ],
      emitted: [],
    });
    expect(shrunk).toMatchObject({ status: "confirmed", cart: [] });
    for (const confirmed of [grown, plain, shrunk]) {
      expect(confirmed?.emitted).toEqual([{ causedByItsEvent: true, dataAsExpected: true }]);
    }
    expect(batched.late).toBe(1);
  });
});

describe("checkout.on-inventory-committed in set-based batches, repeats and failures", () => {
  const confirmedOf = (checkoutId: string) => outboxEvents(fx, "checkout.confirmed", checkoutId);

  it("changes nothing for an event repeated within a batch or after it, or a second outcome for a confirmed checkout", async () => {
    const [lead, a, b] = [
      await processingCheckout(),
      await processingCheckout(),
      await processingCheckout(),
    ];
    const batchesBefore = batches.length;
    await deliver([lead.committed, a.committed, a.committed, b.committed]);
    expect(batches.slice(batchesBefore).some((size) => size > 1)).toBe(true);
    await a.shopper.addLine(a.mug.variantId, 3);
    const lateBefore = await fx.counter("codflow_checkout_late_outcomes_total", {
      event: "inventory.committed",
      state: "confirmed",
    });

    const second = makeEnvelope(
      "inventory.committed",
      inventoryCommittedFor(a.checkoutId, a.shopper.id, [{ variant: a.mug, qty: 3 }]),
    );
    await deliver([lead.committed, a.committed, b.committed, second]);

    for (const c of [a, b]) {
      const [emitted, ...more] = await confirmedOf(c.checkoutId);
      expect(more).toEqual([]);
      expect(emitted?.causationId).toBe(c.committed.id);
      const checkout = await json<CheckoutJson>(
        await c.shopper.call("GET", `/v1/checkouts/${c.checkoutId}`),
      );
      expect(checkout).toMatchObject({
        status: "confirmed",
        orderId: c.committed.data.orderId,
      });
    }
    expect((await a.shopper.cart()).lines.map((l) => l.qty)).toEqual([3]);
    expect(
      await fx.counter("codflow_checkout_late_outcomes_total", {
        event: "inventory.committed",
        state: "confirmed",
      }),
    ).toBe(lateBefore + 1);
  });

  it("loses none of a batch when one event in it fails: the others are confirmed, the broken one dead-lettered alone", async () => {
    const [lead, a, b] = [
      await processingCheckout(),
      await processingCheckout(),
      await processingCheckout(),
    ];
    const unknown = makeEnvelope(
      "inventory.committed",
      inventoryCommittedFor(uuidv7(), "customer-nobody", [{ variant: a.mug, qty: 1 }]),
    );
    const deadLettersBefore = await fx.counter("codflow_dead_letters_total", { consumer: CONFIRM });
    const batchesBefore = batches.length;

    await deliver([lead.committed, a.committed, unknown, b.committed]);

    expect(batches.slice(batchesBefore).some((size) => size >= 3)).toBe(true);
    expect(await fx.counter("codflow_dead_letters_total", { consumer: CONFIRM })).toBe(
      deadLettersBefore + 1,
    );
    expect(await fx.handled(CONFIRM, unknown.id)).toBe(false);
    for (const c of [a, b]) {
      expect(await confirmedOf(c.checkoutId)).toHaveLength(1);
      expect((await c.shopper.cart()).lines).toEqual([]);
    }
  });

  it("confirms every checkout of a batch exactly once when one of them fails transiently", async () => {
    const checkouts = [];
    for (let i = 0; i < 6; i++) checkouts.push(await processingCheckout());
    const victim = checkouts[3]?.committed.id;
    const faulty = failingOnce(
      onInventoryCommitted({ logger: fx.logger, metrics: fx.checkoutMetrics }),
      (event) => event.id === victim,
    );
    const deadLettersBefore = await fx.counter("codflow_dead_letters_total", { consumer: CONFIRM });

    await deliver(
      checkouts.map((c) => c.committed),
      { spec: faulty.spec },
    );

    expect(faulty.failedIn(), "the fault hit a set-based batch").toBe("batch");
    expect(faulty.attempts()).toBeGreaterThan(1);
    for (const c of checkouts) {
      const [emitted, ...more] = await confirmedOf(c.checkoutId);
      expect(more).toEqual([]);
      expect(emitted?.causationId).toBe(c.committed.id);
      expect((await c.shopper.cart()).lines).toEqual([]);
    }
    expect(await fx.counter("codflow_dead_letters_total", { consumer: CONFIRM })).toBe(
      deadLettersBefore,
    );
  });

  it("wakes every Prefer: wait request of a batch by its notification, with no periodic re-read to fall back on", async () => {
    const statusWatch = startStatusWatch({ sql: fx.sql, logger: fx.logger, pollMs: 600_000 });
    try {
      const app = createApp({
        ...fx.deps,
        metrics: createMetrics("checkout-batch-test"),
        statusWatch,
      });
      const carts = [];
      for (let i = 0; i < 5; i++) carts.push(await customerWithCart(fx));
      const answers = carts.map(({ shopper }) =>
        app.request("/v1/checkouts", {
          method: "POST",
          headers: {
            authorization: `Bearer ${shopper.token}`,
            "content-type": "application/json",
            "idempotency-key": uuidv7(),
            prefer: "wait=10",
          },
          body: JSON.stringify(checkoutBody()),
        }),
      );
      await waitFor(() => statusWatch.waiterCount() === carts.length, {
        what: "every request waiting",
      });
      const lead = await processingCheckout();
      const committed = [lead.committed];
      for (const { shopper, mug, spoon } of carts) {
        const [row] = await fx.sql<{ id: string }[]>`
          select id from checkouts where customer_id = ${shopper.id}`;
        committed.push(
          makeEnvelope(
            "inventory.committed",
            inventoryCommittedFor(row?.id ?? "", shopper.id, [
              { variant: mug, qty: 2 },
              { variant: spoon, qty: 1 },
            ]),
          ),
        );
      }
      const batchesBefore = batches.length;

      await deliver(committed);

      expect(batches.slice(batchesBefore).some((size) => size > 1)).toBe(true);
      for (const res of await Promise.all(answers)) {
        expect(res.status).toBe(200);
        expect((await json<CheckoutJson>(res)).status).toBe("confirmed");
      }
    } finally {
      await statusWatch.close();
    }
  });
});
