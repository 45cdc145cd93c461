import {
  appendToOutbox,
  type ConsumerSpec,
  type EventOf,
  type EventType,
  runWithContext,
} from "@codflow/shared";
import { makeEnvelope, waitFor } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { onCheckoutFailed, onCheckoutRequested, onInventoryReserved } from "../src/index.ts";
import { checkoutFailedData, requestedData, reservedData, startOrdersFixture } from "./helpers.ts";

let fx: Awaited<ReturnType<typeof startOrdersFixture>>;
let vendorId: string;
beforeAll(async () => {
  fx = await startOrdersFixture();
  vendorId = uuidv7();
  await fx.sql`insert into vendors (id, name, slug, revision) values (${vendorId}, 'V', 'v', 1)`;
});
afterAll(() => fx?.close());

const ITERATIONS = 50;

/** The two outcomes a checkout that is reserved and failed at once may end in; nothing else. */
const CANCELLED = {
  order: "cancelled",
  voided: false,
  emitted: ["orders.cancelled", "orders.confirmed"],
};
const VOIDED = { order: null, voided: true, emitted: ["orders.failed"] };

const outcomeOf = async (checkoutId: string) => {
  const [order] = await fx.sql`select status from orders where checkout_id = ${checkoutId}`;
  const voided = await fx.sql`select 1 from voided_checkouts where checkout_id = ${checkoutId}`;
  const emitted = await fx.sql`select type from outbox where correlation_id = ${checkoutId}`;
  return {
    order: (order?.status as string | undefined) ?? null,
    voided: voided.length === 1,
    emitted: emitted.map((r) => r.type as string).sort(),
  };
};

/** Runs a consumer's handler in a transaction of its own, as the consumer wrapper does. */
const handleInTransaction = <T extends EventType>(spec: ConsumerSpec<T>, event: EventOf<T>) =>
  fx.sql.begin((tx) =>
    runWithContext({ correlationId: event.correlationId, causationId: event.id }, () =>
      spec.handle(event, {
        sql: tx,
        emit: async (events) => {
          await appendToOutbox(tx, fx.namespace, Array.isArray(events) ? events : [events]);
        },
        afterCommit: () => {},
      }),
    ),
  );

describe("an order created while its checkout is aborted", () => {
  it(`ends, in ${ITERATIONS} races of the two transactions, either cancelled or voided with orders.failed — never a confirmed order beside a tombstone`, async () => {
    const createOrder = onInventoryReserved({ logger: fx.logger });
    const abortCheckout = onCheckoutFailed({ logger: fx.logger });
    const seen = { cancelled: 0, voided: 0 };

    for (let i = 0; i < ITERATIONS; i++) {
      const data = reservedData(vendorId);
      const reserved = makeEnvelope("inventory.reserved", data);
      const failed = makeEnvelope("checkout.failed", checkoutFailedData(data.checkoutId));
      await handleInTransaction(
        onCheckoutRequested(),
        makeEnvelope("checkout.requested", requestedData(data)),
      );

      await Promise.all([
        handleInTransaction(createOrder, reserved),
        handleInTransaction(abortCheckout, failed),
      ]);

      const outcome = await outcomeOf(data.checkoutId);
      expect([CANCELLED, VOIDED]).toContainEqual(outcome);
      seen[outcome.voided ? "voided" : "cancelled"]++;
    }
    // Both commit orders happened (the interleaving is ~50/50), so both branches were proved.
    expect(seen.cancelled).toBeGreaterThan(0);
    expect(seen.voided).toBeGreaterThan(0);
  });

  it(`ends the same way for ${ITERATIONS} checkouts reserved and failed at once through the real consumers`, async () => {
    const checkouts = Array.from({ length: ITERATIONS }, () => reservedData(vendorId));

    const published = await Promise.all(
      checkouts.flatMap((data) => [
        fx.publish("checkout.requested", requestedData(data)),
        fx.publish("inventory.reserved", data),
        fx.publish("checkout.failed", checkoutFailedData(data.checkoutId)),
      ]),
    );

    const ids = published.map((e) => e.id);
    await waitFor(
      async () =>
        (await fx.sql`select count(*)::int as n from inbox where event_id = any(${ids}::uuid[])`)[0]
          ?.n === ids.length,
      { timeoutMs: 30_000, what: "every event handled" },
    );
    for (const data of checkouts) {
      expect([CANCELLED, VOIDED]).toContainEqual(await outcomeOf(data.checkoutId));
    }
  });
});
