import { isDeepStrictEqual } from "node:util";
import {
  type ConsumerSpec,
  contextStream,
  type Envelope,
  type EventData,
  type EventType,
  startConsumer,
} from "@codflow/shared";
import { failingOnce, makeEnvelope, waitFor } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { markCheckoutsConfirmed } from "../src/db/checkout-outcomes.ts";
import { onInventoryRejected, onInventoryReservationExpired } from "../src/index.ts";
import {
  type CheckoutFixture,
  type CheckoutJson,
  customerWithCart,
  json,
  outboxEvents,
  startCheckoutFixture,
} from "./helpers.ts";

const REJECT = "checkout.on-inventory-rejected";
const EXPIRE = "checkout.on-inventory-reservation-expired";

let fx: CheckoutFixture;
/** The sizes of the batches handleBatch was given. */
const batches: number[] = [];

beforeAll(async () => {
  fx = await startCheckoutFixture();
});
afterAll(() => fx?.close());

/** The real consumer, set-based (recording its batches) or with `handleBatch` dropped. */
function recorded<T extends EventType>(spec: ConsumerSpec<T>, setBased: boolean): ConsumerSpec<T> {
  const { handleBatch, ...oneByOne } = spec;
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
 * Publishes `events` (each under a fresh Msg-Id, so a repeat is a redelivery), then runs the
 * consumer, which takes them as batches, until it has settled every one.
 */
async function deliver<T extends EventType>(
  spec: ConsumerSpec<T>,
  events: Envelope<T, EventData<T>>[],
  { setBased = true } = {},
) {
  for (const e of events) await fx.publish(e.type, e.data, { envelope: e, msgID: uuidv7() });
  const running = startConsumer(fx.consumerDeps, recorded(spec, setBased), {
    batchSize: 50,
    baseBackoffMs: 50,
  });
  try {
    await waitFor(
      async () => {
        const info = await fx.broker.jsm.consumers.info(
          contextStream(fx.namespace, spec.type),
          spec.name.replace(/[^a-zA-Z0-9_-]/g, "_"),
        );
        return info.num_ack_pending === 0 && info.num_pending === 0;
      },
      { what: `${spec.name} settled` },
    );
  } finally {
    await running.stop();
  }
}

const outcomeDeps = () => ({ logger: fx.logger, metrics: fx.checkoutMetrics });

/** A customer with 2 mugs and a spoon in the cart and a checkout of them processing. */
async function processingCheckout() {
  const email = `${uuidv7()}@example.com`;
  const cart = await customerWithCart(fx, email);
  const { id } = await json<CheckoutJson>(await cart.shopper.checkout(uuidv7()));
  return { ...cart, email, checkoutId: id };
}
type Processing = Awaited<ReturnType<typeof processingCheckout>>;

const rejectionOf = (c: Processing, reason: "out_of_stock" | "price_changed") =>
  makeEnvelope("inventory.rejected", {
    checkoutId: c.checkoutId,
    reason,
    lines:
      reason === "out_of_stock"
        ? [{ variantId: c.mug.variantId, reason, requestedQty: 2, availableQty: 1 }]
        : [
            {
              variantId: c.spoon.variantId,
              reason,
              expectedPriceMinor: 5_00,
              currentPriceMinor: 6_00,
            },
          ],
  });

const expiryOf = (c: Processing) =>
  makeEnvelope("inventory.reservation_expired", {
    checkoutId: c.checkoutId,
    reservationId: uuidv7(),
    expiredAt: new Date().toISOString(),
  });

/** Everything a consumer decided about checkout `c` on `source`, with generated ids left out. */
async function outcomeOf(c: Processing, source: { id: string }) {
  const checkout = await json<CheckoutJson>(
    await c.shopper.call("GET", `/v1/checkouts/${c.checkoutId}`),
  );
  const [slot] = await fx.sql<{ n: number }[]>`
    select count(*)::int as n from cod_active_orders where checkout_id = ${c.checkoutId}`;
  const emitted = await outboxEvents(fx, "checkout.failed", c.checkoutId);
  const variantName = (id: string) =>
    id === c.mug.variantId ? "mug" : id === c.spoon.variantId ? "spoon" : "?";
  const { failure } = checkout;
  return {
    status: checkout.status,
    failure: failure && {
      ...failure,
      ...(failure.lines
        ? {
            lines: (failure.lines as { variantId: string }[]).map((l) => ({
              ...l,
              variantId: variantName(l.variantId),
            })),
          }
        : {}),
    },
    activeOrderSlot: slot?.n,
    cart: (await c.shopper.cart()).lines.map((l) => l.qty),
    emitted: emitted.map((e) => ({
      causedByItsEvent: e.causationId === source.id,
      dataAsExpected: isDeepStrictEqual(e.data, {
        checkoutId: c.checkoutId,
        customerId: c.shopper.id,
        customerEmail: c.email,
        reason: checkout.failure?.reason,
        detail: checkout.failure?.detail,
      }),
    })),
  };
}

const lateOutcomes = (event: string) =>
  fx.counter("codflow_checkout_late_outcomes_total", { event, state: "confirmed" });

/**
 * Three checkouts whose inventory.rejected arrive together (behind a lead, so they batch): one
 * out of stock, one whose price changed, one confirmed meanwhile.
 */
async function rejectThree({ setBased }: { setBased: boolean }) {
  const [lead, short, repriced, confirmed] = [
    await processingCheckout(),
    await processingCheckout(),
    await processingCheckout(),
    await processingCheckout(),
  ];
  await fx.sql.begin((tx) =>
    markCheckoutsConfirmed(tx, [
      { checkoutId: confirmed.checkoutId, orderId: uuidv7(), orderNumber: "CF-1" },
    ]),
  );
  const events = [
    rejectionOf(lead, "out_of_stock"),
    rejectionOf(short, "out_of_stock"),
    rejectionOf(repriced, "price_changed"),
    rejectionOf(confirmed, "out_of_stock"),
  ];
  const lateBefore = await lateOutcomes("inventory.rejected");

  await deliver(onInventoryRejected(outcomeDeps()), events, { setBased });

  const outcomes = [];
  for (const [i, c] of [short, repriced, confirmed].entries()) {
    outcomes.push(await outcomeOf(c, events[i + 1] as { id: string }));
  }
  return { outcomes, late: (await lateOutcomes("inventory.rejected")) - lateBefore };
}

describe("checkout.on-inventory-rejected in set-based batches", () => {
  it("applies a batch exactly as one event at a time would: checkouts failed with each line's reason, slots freed, carts kept, one checkout.failed each, a late outcome recorded", async () => {
    const batchesBefore = batches.length;
    const batched = await rejectThree({ setBased: true });
    const oneByOne = await rejectThree({ setBased: false });

    expect(batches.slice(batchesBefore).some((size) => size > 1)).toBe(true);
    expect(batched).toEqual(oneByOne);
    const [short, repriced, confirmed] = batched.outcomes;
    expect(short).toMatchObject({
      status: "failed",
      failure: {
        reason: "out_of_stock",
        detail: "We could not reserve your items: Blue mug: 2 requested, 1 available.",
        lines: [{ variantId: "mug", reason: "out_of_stock", requestedQty: 2, availableQty: 1 }],
      },
      activeOrderSlot: 0,
      cart: [2, 1],
    });
    expect(repriced).toMatchObject({
      status: "failed",
      failure: {
        reason: "price_changed",
        detail:
          "We could not reserve your items: Spoon changed price since it was added to the cart.",
      },
      activeOrderSlot: 0,
    });
    for (const failed of [short, repriced]) {
      expect(failed?.emitted).toEqual([{ causedByItsEvent: true, dataAsExpected: true }]);
    }
    expect(confirmed).toMatchObject({ status: "confirmed", activeOrderSlot: 1, emitted: [] });
    expect(batched.late).toBe(1);
  });

  it("fails a checkout rejected twice in one batch once, and dead-letters an unknown checkout alone without losing the rest", async () => {
    const [lead, twice, other] = [
      await processingCheckout(),
      await processingCheckout(),
      await processingCheckout(),
    ];
    const first = rejectionOf(twice, "out_of_stock");
    const unknown = makeEnvelope("inventory.rejected", {
      checkoutId: uuidv7(),
      reason: "out_of_stock",
      lines: [{ variantId: lead.mug.variantId, reason: "out_of_stock" }],
    });
    const deadLettersBefore = await fx.counter("codflow_dead_letters_total", { consumer: REJECT });
    const batchesBefore = batches.length;

    await deliver(onInventoryRejected(outcomeDeps()), [
      rejectionOf(lead, "out_of_stock"),
      first,
      rejectionOf(other, "price_changed"),
      rejectionOf(twice, "price_changed"),
      unknown,
    ]);

    expect(batches.slice(batchesBefore).some((size) => size > 1)).toBe(true);
    expect(await fx.counter("codflow_dead_letters_total", { consumer: REJECT })).toBe(
      deadLettersBefore + 1,
    );
    expect(await fx.handled(REJECT, unknown.id)).toBe(false);
    expect(await outcomeOf(twice, first)).toMatchObject({
      status: "failed",
      failure: { reason: "out_of_stock" },
      emitted: [{ causedByItsEvent: true, dataAsExpected: true }],
    });
    expect((await outcomeOf(other, { id: "" })).status).toBe("failed");
  });
});

describe("checkout.on-inventory-reservation-expired in set-based batches", () => {
  it("fails every checkout of a batch still processing with reservation_expired, one checkout.failed each, and records the late one", async () => {
    const [lead, a, b, confirmed] = [
      await processingCheckout(),
      await processingCheckout(),
      await processingCheckout(),
      await processingCheckout(),
    ];
    await fx.sql.begin((tx) =>
      markCheckoutsConfirmed(tx, [
        { checkoutId: confirmed.checkoutId, orderId: uuidv7(), orderNumber: "CF-2" },
      ]),
    );
    const events = [lead, a, b, confirmed].map(expiryOf);
    const lateBefore = await lateOutcomes("inventory.reservation_expired");
    const batchesBefore = batches.length;

    await deliver(onInventoryReservationExpired(outcomeDeps()), events);

    expect(batches.slice(batchesBefore).some((size) => size > 1)).toBe(true);
    for (const [i, c] of [a, b].entries()) {
      expect(await outcomeOf(c, events[i + 1] as { id: string })).toMatchObject({
        status: "failed",
        failure: { reason: "reservation_expired" },
        activeOrderSlot: 0,
        cart: [2, 1],
        emitted: [{ causedByItsEvent: true, dataAsExpected: true }],
      });
    }
    expect((await outcomeOf(confirmed, { id: "" })).emitted).toEqual([]);
    expect(await lateOutcomes("inventory.reservation_expired")).toBe(lateBefore + 1);
    expect(await fx.handled(EXPIRE, (events[3] as { id: string }).id)).toBe(true);
  });
});

/**
 * Six checkouts failed by `spec` in one batch, one of whose events fails transiently after its
 * effects: each checkout ends failed with `reason` and one checkout.failed, nothing dead-lettered.
 */
async function failSixDespiteAFault<
  T extends "inventory.rejected" | "inventory.reservation_expired",
>(spec: ConsumerSpec<T>, eventOf: (c: Processing) => Envelope<T, EventData<T>>, reason: string) {
  const checkouts = [];
  for (let i = 0; i < 6; i++) checkouts.push(await processingCheckout());
  const events = checkouts.map(eventOf);
  const victim = events[3]?.id;
  const faulty = failingOnce(spec, (event) => event.id === victim);
  const deadLettersBefore = await fx.counter("codflow_dead_letters_total", { consumer: spec.name });

  await deliver(faulty.spec, events);

  expect(faulty.failedIn(), "the fault hit a set-based batch").toBe("batch");
  expect(faulty.attempts()).toBeGreaterThan(1);
  for (const [i, c] of checkouts.entries()) {
    expect(await outcomeOf(c, events[i] as { id: string })).toMatchObject({
      status: "failed",
      failure: { reason },
      activeOrderSlot: 0,
      emitted: [{ causedByItsEvent: true, dataAsExpected: true }],
    });
  }
  expect(await fx.counter("codflow_dead_letters_total", { consumer: spec.name })).toBe(
    deadLettersBefore,
  );
}

describe("a transient fault in a batch", () => {
  it("still fails every rejected checkout of the batch exactly once", () =>
    failSixDespiteAFault(
      onInventoryRejected(outcomeDeps()),
      (c) => rejectionOf(c, "out_of_stock"),
      "out_of_stock",
    ));

  it("still fails every expired checkout of the batch exactly once", () =>
    failSixDespiteAFault(
      onInventoryReservationExpired(outcomeDeps()),
      expiryOf,
      "reservation_expired",
    ));
});
