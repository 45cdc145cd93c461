import {
  type ConsumerSpec,
  createDatabase,
  type EventData,
  type EventType,
  startConsumer,
} from "@codflow/shared";
import { waitFor } from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  onCheckoutFailed,
  onCheckoutRequested,
  onOrdersConfirmed,
  startExpirySweeper,
} from "../src/index.ts";
import {
  checkoutRequested,
  heldMismatches,
  type Inventory,
  ledgerMismatches,
  type OutboxEvent,
  ordersConfirmed,
  outboxEvents,
  type Reserved,
  reserve,
  seedProduct,
  startInventory,
  stockLevel,
} from "./helpers.ts";

let fx: Inventory;
beforeAll(async () => {
  fx = await startInventory();
});
afterAll(() => fx.close());

type Outcome = OutboxEvent<{
  reason?: string;
  lines: { variantId: string; requestedQty?: number; availableQty?: number }[];
}>;

/** The spec with its set-based batches counted, so a test can tell that path ran. */
function countingBatches<T extends EventType>(spec: ConsumerSpec<T>) {
  const seen = { batches: 0 };
  const counted: ConsumerSpec<T> = {
    ...spec,
    handleBatch: async (events, tx) => {
      seen.batches++;
      await spec.handleBatch?.(events, tx);
    },
  };
  return { spec: counted, seen };
}

const outcomesFor = async (checkoutIds: string[]) => {
  const wanted = new Set(checkoutIds);
  return (await outboxEvents(fx)).filter(
    (e): e is Outcome =>
      wanted.has(e.correlationId) &&
      (e.type === "inventory.reserved" || e.type === "inventory.rejected"),
  );
};

/** A small deterministic generator, so a failing cart mix can be replayed. */
function carts(seed: number, count: number, variants: string[]) {
  let state = seed;
  const next = (n: number) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
  return Array.from({ length: count }, () => {
    const picked = [...variants].sort(() => next(3) - 1).slice(0, 1 + next(variants.length));
    return picked.map((variantId) => ({ variantId, qty: 1 + next(3) }));
  });
}

describe("inventory.reserve-stock in set-based batches", () => {
  it("reserves exactly what one-by-one processing in delivery order would, never overselling", async () => {
    const stock = [4, 3, 2];
    const product = await seedProduct(
      fx,
      stock.map((s) => ({ stock: s })),
    );
    const variants = product.variants.map((v) => v.id ?? "");
    const requests = carts(7, 30, variants).map((lines) => checkoutRequested(lines));
    for (const r of requests) await fx.publish("checkout.requested", r);

    const { spec, seen } = countingBatches(onCheckoutRequested({ reservationTtlSeconds: 900 }));
    const consumer = fx.consume(spec, { batchSize: 50 });
    const outcomes = await waitFor(
      async () => {
        const found = await outcomesFor(requests.map((r) => r.checkoutId));
        return found.length === requests.length && found;
      },
      { what: "30 answers" },
    );
    await consumer.stop();

    const free = new Map(variants.map((v, i) => [v, stock[i] ?? 0]));
    for (const request of requests) {
      const outcome = outcomes.find((o) => o.correlationId === request.checkoutId);
      const fits = request.lines.every((l) => (free.get(l.variantId) ?? 0) >= l.qty);
      if (fits) {
        expect(outcome?.type, `checkout ${requests.indexOf(request)}`).toBe("inventory.reserved");
        for (const l of request.lines) free.set(l.variantId, (free.get(l.variantId) ?? 0) - l.qty);
      } else {
        expect(outcome?.type, `checkout ${requests.indexOf(request)}`).toBe("inventory.rejected");
        expect(outcome?.data.reason).toBe("out_of_stock");
        expect(outcome?.data.lines).toEqual(
          request.lines
            .filter((l) => (free.get(l.variantId) ?? 0) < l.qty)
            .map((l) =>
              expect.objectContaining({
                variantId: l.variantId,
                requestedQty: l.qty,
                availableQty: free.get(l.variantId),
              }),
            ),
        );
      }
    }
    expect(seen.batches, "the set-based path ran").toBeGreaterThan(0);
    for (const [i, variantId] of variants.entries()) {
      const onHand = stock[i] ?? 0;
      expect(await stockLevel(fx, variantId)).toEqual({
        onHand,
        reserved: onHand - (free.get(variantId) ?? 0),
        committed: 0,
      });
    }
    expect(await ledgerMismatches(fx)).toEqual([]);
    expect(await heldMismatches(fx)).toEqual([]);
  });

  it("re-sends the answer of a checkout asked again, reserves a checkout asked twice in one batch once, and nothing for an aborted one", async () => {
    const product = await seedProduct(fx, [{ stock: 20 }]);
    const variantId = product.variants[0]?.id ?? "";
    fx.relay();
    const first = fx.consume(onCheckoutRequested({ reservationTtlSeconds: 900 }));
    const abort = fx.consume(onCheckoutFailed());
    const before = [
      await reserve(fx, [{ variantId, qty: 2 }]),
      await reserve(fx, [{ variantId, qty: 3 }]),
    ];
    const aborted = checkoutRequested([{ variantId, qty: 1 }]);
    await fx.publish("checkout.failed", {
      checkoutId: aborted.checkoutId,
      customerId: "customer-1",
      customerEmail: null,
      reason: "timed_out",
      detail: "the checkout ran past its deadline",
    });
    const beforeIds = before.map((r) => r.correlationId);
    await waitFor(
      async () => {
        const [published] = await fx.sql`
          select count(*)::int as n from outbox
          where correlation_id = any(${beforeIds}) and published_at is not null`;
        const [tombstone] = await fx.sql`
          select 1 from reservations where checkout_id = ${aborted.checkoutId} and status = 'void'`;
        return published?.n === 2 && tombstone !== undefined;
      },
      { what: "first answers published and the tombstone written" },
    );
    await Promise.all([first.stop(), abort.stop()]);

    const twice = checkoutRequested([{ variantId, qty: 4 }]);
    const fresh = checkoutRequested([{ variantId, qty: 1 }]);
    const asked = [
      checkoutRequested([{ variantId, qty: 2 }], before[0]?.correlationId),
      twice,
      aborted,
      twice,
      checkoutRequested([{ variantId, qty: 3 }], before[1]?.correlationId),
      fresh,
    ];
    for (const data of asked) await fx.publish("checkout.requested", data);
    const { spec, seen } = countingBatches(onCheckoutRequested({ reservationTtlSeconds: 900 }));
    const consumer = fx.consume(spec, { batchSize: 20 });

    const resends = async () =>
      (
        await fx.sql<{ resends: number }[]>`
          select resends from outbox where correlation_id = any(${beforeIds})
          and type = 'inventory.reserved'`
      ).map((r) => r.resends);
    await waitFor(
      async () =>
        (await resends()).every((n) => n === 1) &&
        (await outcomesFor([twice.checkoutId, fresh.checkoutId])).length === 2,
      { what: "re-sends and the new answers" },
    );
    await consumer.stop();

    expect(seen.batches, "the set-based path ran").toBeGreaterThan(0);
    const answers = await outcomesFor([
      ...beforeIds,
      twice.checkoutId,
      fresh.checkoutId,
      aborted.checkoutId,
    ]);
    expect(answers.map((a) => [a.correlationId, a.type]).sort()).toEqual(
      [
        [beforeIds[0], "inventory.reserved"],
        [beforeIds[1], "inventory.reserved"],
        [twice.checkoutId, "inventory.reserved"],
        [fresh.checkoutId, "inventory.reserved"],
      ].sort(),
    );
    const [reservations] = await fx.sql`
      select count(*)::int as n from reservations r join reservation_lines l on l.reservation_id = r.id
      where l.variant_id = ${variantId}`;
    expect(reservations?.n).toBe(4);
    expect(await stockLevel(fx, variantId)).toEqual({ onHand: 20, reserved: 10, committed: 0 });
    expect(await ledgerMismatches(fx)).toEqual([]);
  });

  it("still reserves the rest of a batch when one checkout in it cannot be answered (dead-lettered alone)", async () => {
    const product = await seedProduct(fx, [{ stock: 10 }]);
    const variantId = product.variants[0]?.id ?? "";
    const first = fx.consume(onCheckoutRequested({ reservationTtlSeconds: 900 }));
    const lost = await reserve(fx, [{ variantId, qty: 1 }]);
    await first.stop();
    // Its answer is gone (as after outbox retention): a re-ask can neither reserve nor re-send.
    await fx.sql`delete from outbox where correlation_id = ${lost.correlationId}`;
    const others = Array.from({ length: 5 }, () => checkoutRequested([{ variantId, qty: 1 }]));
    const batch = [
      ...others.slice(0, 2),
      checkoutRequested([{ variantId, qty: 1 }], lost.correlationId),
      ...others.slice(2),
    ];
    for (const data of batch) await fx.publish("checkout.requested", data);
    const deadBefore = await fx.counter("codflow_dead_letters_total", {
      consumer: "inventory.reserve-stock",
    });

    const { spec, seen } = countingBatches(onCheckoutRequested({ reservationTtlSeconds: 900 }));
    const consumer = fx.consume(spec, { batchSize: 20 });

    await waitFor(
      async () =>
        (await fx.counter("codflow_dead_letters_total", {
          consumer: "inventory.reserve-stock",
        })) ===
        deadBefore + 1,
      { what: "the unanswerable checkout dead-lettered" },
    );
    const answers = await waitFor(
      async () => {
        const found = await outcomesFor(others.map((o) => o.checkoutId));
        return found.length === others.length && found;
      },
      { what: "the other five answered" },
    );
    await consumer.stop();
    expect(seen.batches, "the set-based path ran").toBeGreaterThan(0);
    expect(answers.every((a) => a.type === "inventory.reserved")).toBe(true);
    expect(await outcomesFor([lost.correlationId])).toEqual([]);
    expect(await stockLevel(fx, variantId)).toEqual({ onHand: 10, reserved: 6, committed: 0 });
    expect(await ledgerMismatches(fx)).toEqual([]);
    expect(await heldMismatches(fx)).toEqual([]);
  });
});

describe("stock-row lock order", () => {
  it("runs reserve and commit batches and the sweeper on the same variants without a deadlock", async () => {
    const product = await seedProduct(fx, [
      { stock: 2000 },
      { stock: 2000 },
      { stock: 2000 },
      { stock: 2000 },
    ]);
    const variants = product.variants.map((v) => v.id ?? "");
    const deadlocks = async () =>
      Number(
        (await fx.sql`select deadlocks from pg_stat_database where datname = current_database()`)[0]
          ?.deadlocks,
      );
    const deadlocksBefore = await deadlocks();
    const retries = (consumer: string) =>
      fx.counter("codflow_consumer_messages_total", { consumer, result: "retry" });
    const retriesBefore = [
      await retries("inventory.reserve-stock"),
      await retries("inventory.commit-reservation"),
    ];

    // Their own pool, closed at the end: a backend reports its deadlock count when it exits.
    const appName = `lock-order-${Date.now()}`;
    const url = new URL(fx.databaseUrl);
    url.searchParams.set("application_name", appName);
    const pool = createDatabase(url.toString(), { max: 8 });
    const deps = { ...fx.consumerDeps, sql: pool.sql };
    const reserveSpec = onCheckoutRequested({ reservationTtlSeconds: 2 });
    const commitSpec = onOrdersConfirmed({ logger: fx.logger, metrics: fx.inventoryMetrics });
    const running = [
      startConsumer(deps, reserveSpec, { batchSize: 10 }),
      startConsumer(deps, reserveSpec, { batchSize: 10 }),
      startConsumer(deps, commitSpec, { batchSize: 10 }),
      startConsumer(deps, commitSpec, { batchSize: 10 }),
      startExpirySweeper({
        sql: pool.sql,
        namespace: fx.namespace,
        logger: fx.logger,
        metrics: fx.inventoryMetrics,
        pollMs: 10,
      }),
    ];

    const waves = [carts(11, 150, variants), carts(12, 150, variants)].map((wave) =>
      wave.map((lines) => checkoutRequested(lines)),
    );
    const reservedOf = async (requests: EventData<"checkout.requested">[]) => {
      const wanted = new Set(requests.map((r) => r.checkoutId));
      const found = (
        await outboxEvents<EventData<"inventory.reserved">>(fx, "inventory.reserved")
      ).filter((e): e is Reserved => wanted.has(e.correlationId));
      return found.length === requests.length && found;
    };
    await Promise.all(waves[0]?.map((r) => fx.publish("checkout.requested", r)) ?? []);
    const firstWave = await waitFor(() => reservedOf(waves[0] ?? []), {
      what: "first wave reserved",
    });
    await Promise.all([
      ...firstWave.map((r) => fx.publish("orders.confirmed", ordersConfirmed(r))),
      ...(waves[1]?.map((r) => fx.publish("checkout.requested", r)) ?? []),
    ]);
    await waitFor(() => reservedOf(waves[1] ?? []), {
      timeoutMs: 30_000,
      what: "second wave reserved",
    });
    const firstIds = firstWave.map((r) => r.data.reservationId);
    await waitFor(
      async () =>
        (
          await fx.sql`select count(*)::int as n from reservations
                       where id = any(${firstIds}::uuid[]) and status = 'active'`
        )[0]?.n === 0,
      { timeoutMs: 30_000, what: "first wave committed or expired" },
    );
    await Promise.all(running.map((r) => r.stop()));
    await pool.close();
    await waitFor(
      async () =>
        (
          await fx.sql`select count(*)::int as n from pg_stat_activity where application_name = ${appName}`
        )[0]?.n === 0,
      { what: "the pool's backends gone (their statistics flushed)" },
    );

    expect(await deadlocks()).toBe(deadlocksBefore);
    expect([
      await retries("inventory.reserve-stock"),
      await retries("inventory.commit-reservation"),
    ]).toEqual(retriesBefore);
    expect(await ledgerMismatches(fx)).toEqual([]);
    expect(await heldMismatches(fx)).toEqual([]);
  });
});
