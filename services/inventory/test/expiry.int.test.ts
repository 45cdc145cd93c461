import { createDatabase, type EventData, startWorkerLoop } from "@codflow/shared";
import { waitFor } from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expireDueReservations } from "../src/db/expire-reservations.ts";
import { onCheckoutRequested, onOrdersConfirmed, sweepExpiredReservations } from "../src/index.ts";
import {
  checkoutRequested,
  heldMismatches,
  type Inventory,
  ledgerMismatches,
  ordersConfirmed,
  outboxEvents,
  type Reserved,
  reservationStatus,
  reserve,
  seedProduct,
  startInventory,
  stockLevel,
} from "./helpers.ts";

/** Commits of these checkouts stay open (row lock held) until their promise resolves. */
const heldCommits = new Map<string, { reached: () => void; until: Promise<void> }>();

let fx: Inventory;
beforeAll(async () => {
  fx = await startInventory();
  fx.consume(onCheckoutRequested({ reservationTtlSeconds: 1 }));
  const commit = onOrdersConfirmed({ logger: fx.logger, metrics: fx.inventoryMetrics });
  /** Keeps the commit's transaction open while a test holds one of these checkouts. */
  const holdFor = async (checkoutIds: string[]) => {
    for (const checkoutId of checkoutIds) {
      const hold = heldCommits.get(checkoutId);
      if (hold) {
        hold.reached();
        await hold.until;
      }
    }
  };
  fx.consume({
    ...commit,
    async handle(event, tx) {
      await commit.handle(event, tx);
      await holdFor([event.data.checkoutId]);
    },
    async handleBatch(events, tx) {
      await commit.handleBatch?.(events, tx);
      await holdFor(events.map((e) => e.data.checkoutId));
    },
  });
});
afterAll(() => fx.close());

const eventsOf = async (type: string, checkoutId: string) =>
  (await outboxEvents(fx, type)).filter((e) => e.correlationId === checkoutId);

/** Waits until every active reservation is past its expiry (the database clock decides). */
const allDue = () =>
  waitFor(
    async () =>
      (
        await fx.sql`select count(*)::int as n from reservations
                     where status = 'active' and expires_at >= now()`
      )[0]?.n === 0,
    { what: "reservations past their expiry" },
  );

const sweepOnce = () =>
  sweepExpiredReservations({
    sql: fx.sql,
    namespace: fx.namespace,
    logger: fx.logger,
    metrics: fx.inventoryMetrics,
  });

const lateCommits = (status: string) =>
  fx.counter("codflow_inventory_late_commits_total", { reservation_status: status });

describe("inventory.expiry-sweeper", () => {
  it("expires a reservation past its expiry: stock back with expire ledger rows, one inventory.reservation_expired", async () => {
    const product = await seedProduct(fx, [{ stock: 4 }, { stock: 4 }]);
    const [a, b] = product.variants.map((v) => v.id ?? "");
    const reserved = await reserve(fx, [
      { variantId: a ?? "", qty: 3 },
      { variantId: b ?? "", qty: 1 },
    ]);
    const { checkoutId, reservationId } = reserved.data;
    const expiredBefore = await fx.counter("codflow_reservations_expired_total", {});
    const sweeper = fx.sweeper({ pollMs: 20 });

    const [event] = await waitFor(
      async () => {
        const found = await eventsOf("inventory.reservation_expired", checkoutId);
        return found.length > 0 && found;
      },
      { what: "inventory.reservation_expired" },
    );
    await sweeper.stop();

    expect(event).toMatchObject({ correlationId: checkoutId, causationId: null });
    const [row] = await fx.sql`
      select updated_at, updated_at > expires_at as "afterExpiry" from reservations
      where id = ${reservationId}`;
    expect(event?.data).toEqual({
      checkoutId,
      reservationId,
      expiredAt: new Date(row?.updated_at).toISOString(),
    });
    expect(row?.afterExpiry).toBe(true);
    expect(await reservationStatus(fx, reservationId)).toBe("expired");
    expect(await stockLevel(fx, a ?? "")).toEqual({ onHand: 4, reserved: 0, committed: 0 });
    expect(await stockLevel(fx, b ?? "")).toEqual({ onHand: 4, reserved: 0, committed: 0 });
    const expires = await fx.sql`
      select variant_id, reserved_delta from stock_movements
      where reservation_id = ${reservationId} and kind = 'expire' order by reserved_delta`;
    expect(expires.map((m) => [m.variant_id, m.reserved_delta])).toEqual([
      [a, -3],
      [b, -1],
    ]);
    expect(await fx.counter("codflow_reservations_expired_total", {})).toBe(expiredBefore + 1);
    await sweepOnce();
    expect(await eventsOf("inventory.reservation_expired", checkoutId)).toHaveLength(1);
    expect(await ledgerMismatches(fx)).toEqual([]);
    expect(await heldMismatches(fx)).toEqual([]);
  });
});

describe("expiry against a late commit: the reservation's row lock decides", () => {
  it("applies nothing to a commit that waited on a sweep in progress, and counts it", async () => {
    const product = await seedProduct(fx, [{ stock: 2 }]);
    const variantId = product.variants[0]?.id ?? "";
    const reserved = await reserve(fx, [{ variantId, qty: 2 }]);
    await allDue();
    const lateBefore = await lateCommits("expired");
    let endSweep = () => {};
    const sweepMayEnd = new Promise<void>((resolve) => {
      endSweep = resolve;
    });
    let swept = () => {};
    const sweptButOpen = new Promise<void>((resolve) => {
      swept = resolve;
    });
    const sweep = fx.sql.begin(async (tx) => {
      const rows = await expireDueReservations(tx);
      swept();
      await sweepMayEnd;
      return rows;
    });
    await sweptButOpen;

    await fx.publish("orders.confirmed", ordersConfirmed(reserved));
    await waitFor(
      async () =>
        (
          await fx.sql`select count(*)::int as n from pg_stat_activity
                       where datname = current_database() and wait_event_type = 'Lock'`
        )[0]?.n > 0,
      { what: "the commit waiting for the reservation's row lock" },
    );
    endSweep();
    expect((await sweep).map((r) => r.reservationId)).toEqual([reserved.data.reservationId]);

    await waitFor(async () => (await lateCommits("expired")) === lateBefore + 1, {
      what: "the late commit counted",
    });
    expect(await reservationStatus(fx, reserved.data.reservationId)).toBe("expired");
    expect(await eventsOf("inventory.committed", reserved.data.checkoutId)).toEqual([]);
    expect(await stockLevel(fx, variantId)).toEqual({ onHand: 2, reserved: 0, committed: 0 });
    expect(await ledgerMismatches(fx)).toEqual([]);
  });

  it("skips a reservation a commit holds, and never expires it once committed", async () => {
    const product = await seedProduct(fx, [{ stock: 2 }]);
    const variantId = product.variants[0]?.id ?? "";
    const reserved = await reserve(fx, [{ variantId, qty: 1 }]);
    const { checkoutId, reservationId } = reserved.data;
    await allDue();
    let endCommit = () => {};
    let reached = () => {};
    const commitHeld = new Promise<void>((resolve) => {
      reached = resolve;
    });
    heldCommits.set(checkoutId, {
      reached,
      until: new Promise<void>((resolve) => {
        endCommit = resolve;
      }),
    });

    await fx.publish("orders.confirmed", ordersConfirmed(reserved));
    await commitHeld;
    const duringCommit = await sweepOnce();
    endCommit();
    await waitFor(async () => (await reservationStatus(fx, reservationId)) === "committed", {
      what: "committed",
    });
    await sweepOnce();

    expect(duringCommit.expired).toBe(0);
    expect(await eventsOf("inventory.committed", checkoutId)).toHaveLength(1);
    expect(await eventsOf("inventory.reservation_expired", checkoutId)).toEqual([]);
    expect(await stockLevel(fx, variantId)).toEqual({ onHand: 2, reserved: 0, committed: 1 });
    expect(await ledgerMismatches(fx)).toEqual([]);
  });

  it("lets exactly one of expiry and commit win for each of 50 reservations confirmed around their expiry", async () => {
    const product = await seedProduct(fx, [{ stock: 60 }, { stock: 60 }]);
    const variants = product.variants.map((v) => v.id ?? "");
    const expiredBefore = await fx.counter("codflow_reservations_expired_total", {});
    const lateBefore = await lateCommits("expired");
    const requests = Array.from({ length: 50 }, (_, i) =>
      checkoutRequested([{ variantId: variants[i % 2] ?? "", qty: 1 }]),
    );
    const sweeper = fx.sweeper({ pollMs: 5 });
    await Promise.all(requests.map((r) => fx.publish("checkout.requested", r)));
    const reservations = await waitFor(
      async () => {
        const byCheckout = new Map(
          (await outboxEvents<EventData<"inventory.reserved">>(fx, "inventory.reserved")).map(
            (e) => [e.correlationId, e as Reserved],
          ),
        );
        const found = requests.map((r) => byCheckout.get(r.checkoutId));
        return found.every((e) => e !== undefined) && (found as Reserved[]);
      },
      { what: "50 reservations" },
    );

    // Reservations 0-9 are confirmed at once (commit should win), 40-49 once they are seen
    // expired (expiry has won), 10-39 at their expiry + (i - 25) × 10 ms: these race.
    await Promise.all(
      reservations.map(async (reserved, i) => {
        if (i >= 40) {
          await waitFor(
            async () => (await reservationStatus(fx, reserved.data.reservationId)) === "expired",
            {
              what: "expired",
            },
          );
        } else if (i >= 10) {
          const at = Date.parse(reserved.data.expiresAt) + (i - 25) * 10;
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));
        }
        await fx.publish("orders.confirmed", ordersConfirmed(reserved));
      }),
    );
    const ids = reservations.map((r) => r.data.reservationId);
    const statuses = await waitFor(
      async () => {
        const rows = await fx.sql<{ id: string; status: string }[]>`
          select id, status::text from reservations where id = any(${ids}::uuid[])`;
        return (
          rows.every((r) => r.status !== "active") && new Map(rows.map((r) => [r.id, r.status]))
        );
      },
      { timeoutMs: 20_000, what: "every reservation committed or expired" },
    );
    const expiredIds = ids.filter((id) => statuses.get(id) === "expired");
    await waitFor(async () => (await lateCommits("expired")) === lateBefore + expiredIds.length, {
      what: "every late commit handled",
    });
    await sweeper.stop();

    const committedIds = ids.filter((id) => statuses.get(id) === "committed");
    expect(committedIds.length + expiredIds.length).toBe(50);
    expect(committedIds.length, "some commits won").toBeGreaterThan(0);
    expect(expiredIds.length, "some expiries won").toBeGreaterThan(0);
    for (const { data } of reservations) {
      const won = statuses.get(data.reservationId);
      const committedEvents = await eventsOf("inventory.committed", data.checkoutId);
      const expiredEvents = await eventsOf("inventory.reservation_expired", data.checkoutId);
      const kinds = (
        await fx.sql`select kind::text from stock_movements where reservation_id = ${data.reservationId} order by id`
      ).map((m) => m.kind);
      if (won === "committed") {
        expect([committedEvents.length, expiredEvents.length, kinds]).toEqual([
          1,
          0,
          ["reserve", "commit"],
        ]);
      } else {
        expect([committedEvents.length, expiredEvents.length, kinds]).toEqual([
          0,
          1,
          ["reserve", "expire"],
        ]);
      }
    }
    const held = (variantId: string) =>
      reservations.filter(
        (r) =>
          r.data.lines[0]?.variantId === variantId &&
          statuses.get(r.data.reservationId) === "committed",
      ).length;
    for (const variantId of variants) {
      expect(await stockLevel(fx, variantId)).toEqual({
        onHand: 60,
        reserved: 0,
        committed: held(variantId),
      });
    }
    expect(await fx.counter("codflow_reservations_expired_total", {})).toBe(
      expiredBefore + expiredIds.length,
    );
    expect(await ledgerMismatches(fx)).toEqual([]);
    expect(await heldMismatches(fx)).toEqual([]);
  });
});

describe("several sweepers at once", () => {
  it("expires each reservation exactly once when two sweepers on two pools run together", async () => {
    const product = await seedProduct(fx, [{ stock: 300 }, { stock: 300 }]);
    const variants = product.variants.map((v) => v.id ?? "");
    const requests = Array.from({ length: 450 }, (_, i) =>
      checkoutRequested([{ variantId: variants[i % 2] ?? "", qty: 1 }]),
    );
    const checkoutIds = new Set(requests.map((r) => r.checkoutId));
    await Promise.all(requests.map((r) => fx.publish("checkout.requested", r)));
    await waitFor(
      async () =>
        (await outboxEvents(fx, "inventory.reserved")).filter((e) =>
          checkoutIds.has(e.correlationId),
        ).length === 450,
      { timeoutMs: 30_000, what: "450 reservations" },
    );
    await allDue();
    const other = createDatabase(fx.databaseUrl, { max: 2 });
    await other.sql`select 1`;
    const expiredBy = [0, 0];
    const sweepers = [fx.sql, other.sql].map((sql, i) =>
      startWorkerLoop({
        name: `sweeper-${i}`,
        sql,
        pollMs: 20,
        logger: fx.logger,
        runOnce: async () => {
          const result = await sweepExpiredReservations({
            sql,
            namespace: fx.namespace,
            logger: fx.logger,
            metrics: fx.inventoryMetrics,
          });
          expiredBy[i] = (expiredBy[i] ?? 0) + result.expired;
          return result;
        },
      }),
    );
    try {
      await waitFor(
        async () =>
          (await outboxEvents(fx, "inventory.reservation_expired")).filter((e) =>
            checkoutIds.has(e.correlationId),
          ).length >= 450,
        { timeoutMs: 20_000, what: "450 reservations expired" },
      );
    } finally {
      await Promise.all(sweepers.map((s) => s.stop()));
      await other.close();
    }

    expect(expiredBy[0], `sweeper 0 expired some: ${expiredBy}`).toBeGreaterThan(0);
    expect(expiredBy[1], `sweeper 1 expired some: ${expiredBy}`).toBeGreaterThan(0);
    expect((expiredBy[0] ?? 0) + (expiredBy[1] ?? 0)).toBe(450);
    const events = (await outboxEvents(fx, "inventory.reservation_expired")).filter((e) =>
      checkoutIds.has(e.correlationId),
    );
    expect(new Set(events.map((e) => e.correlationId)).size).toBe(450);
    expect(events).toHaveLength(450);
    const [ledger] = await fx.sql`
      select count(*)::int as reservations, count(*) filter (where n = 1)::int as once
      from (
        select r.id, count(m.id) as n from reservations r
        left join stock_movements m on m.reservation_id = r.id and m.kind = 'expire'
        where r.checkout_id = any(${[...checkoutIds]}::uuid[]) and r.status = 'expired'
        group by r.id
      ) per_reservation`;
    expect(ledger).toEqual({ reservations: 450, once: 450 });
    for (const variantId of variants) {
      expect(await stockLevel(fx, variantId)).toEqual({ onHand: 300, reserved: 0, committed: 0 });
    }
    expect(await ledgerMismatches(fx)).toEqual([]);
    expect(await heldMismatches(fx)).toEqual([]);
  });
});
