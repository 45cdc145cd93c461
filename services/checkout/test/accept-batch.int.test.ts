import { waitFor } from "@codflow/shared";
import { metricValue, scrapeMetrics } from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CheckoutFixture,
  type CheckoutJson,
  COD_MAX_ORDER_MINOR,
  checkoutBody,
  customer,
  customerWithCart,
  givenVariant,
  json,
  outboxEvents,
  problemSlug,
  startCheckoutFixture,
} from "./helpers.ts";

/*
 * Under load, checkout accepts the requests that queued while its acceptance transactions were
 * busy together, in one transaction. Here one transaction in flight at a time, held up by a lock
 * the test holds, makes the next requests queue; released, they go in one batch, and each must
 * get exactly the answer it would have had alone.
 */

let fx: CheckoutFixture;
beforeAll(async () => {
  fx = await startCheckoutFixture({ config: { CHECKOUT_ACCEPT_CONCURRENCY: 1 } });
});
afterAll(() => fx.close());

const scrape = async (name: string, labels: Record<string, string> = {}) =>
  metricValue(await scrapeMetrics(fx.app), name, labels);

type Shopper = Awaited<ReturnType<typeof customer>>;

/**
 * Holds `shopper`'s COD profile locked while a checkout of theirs is accepted (its transaction
 * waits on the lock) and `send()` makes more requests, until they all queue behind it; then lets
 * go and answers the held checkout and the others.
 */
async function queuedBehindHeldCheckout(
  shopper: Shopper,
  send: () => (Response | Promise<Response>)[],
) {
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let locked = () => {};
  const isLocked = new Promise<void>((resolve) => {
    locked = resolve;
  });
  const holder = fx.sql.begin(async (tx) => {
    await tx`select 1 from cod_customers where customer_id = ${shopper.id} for update`;
    locked();
    await released;
  });
  await isLocked;
  const held = shopper.checkout("held");
  await waitFor(
    async () =>
      (
        await fx.sql`
          select 1 from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock'`
      ).length > 0,
    { what: "the held checkout to wait on the profile lock" },
  );
  const others = send();
  await waitFor(async () => (await scrape("codflow_checkout_accept_queued")) === others.length, {
    what: `${others.length} checkouts queued`,
  });
  release();
  await holder;
  return { held: await held, others: await Promise.all(others) };
}

describe("accepting the checkouts that queued, together", () => {
  it("answers each request of a batch as if it had been alone: accepted, replayed or refused", async () => {
    const holder = await customer(fx);
    await givenCart(holder);
    const accepted = await Promise.all([customerWithCart(fx), customerWithCart(fx)]);
    const replayed = await customerWithCart(fx);
    const first = await json<CheckoutJson>(await replayed.shopper.checkout("key-r"));
    const reused = await customerWithCart(fx);
    await reused.shopper.checkout("key-u");
    const emptyCart = await customer(fx);
    const tooDear = await customer(fx);
    await givenCart(tooDear, COD_MAX_ORDER_MINOR + 1);
    const batchesBefore = (await scrape("codflow_checkout_accept_batch_size_count")) ?? 0;

    const { held, others } = await queuedBehindHeldCheckout(holder, () => [
      ...accepted.map(({ shopper }) => shopper.checkout("key-a")),
      replayed.shopper.checkout("key-r"),
      reused.shopper.checkout("key-u", checkoutBody({ phone: "+4915199999999" })),
      emptyCart.checkout("key-e"),
      tooDear.checkout("key-t"),
    ]);

    expect(held.status).toBe(202);
    const [a1, a2, replay, reuse, empty, dear] = others as [
      Response,
      Response,
      Response,
      Response,
      Response,
      Response,
    ];
    for (const res of [a1, a2]) expect(res.status).toBe(202);
    const ids = await Promise.all([a1, a2].map(async (res) => (await json<CheckoutJson>(res)).id));
    expect(new Set(ids).size).toBe(2);
    for (const [i, id] of ids.entries()) {
      const [requested, ...more] = await outboxEvents(fx, "checkout.requested", id);
      expect(more).toEqual([]);
      expect(requested?.data).toMatchObject({
        checkoutId: id,
        customerId: accepted[i]?.shopper.id,
        totalMinor: 30_00,
      });
    }
    expect(replay.status).toBe(202);
    expect((await json<CheckoutJson>(replay)).id).toBe(first.id);
    expect(reuse.status).toBe(409);
    expect(await problemSlug(reuse)).toBe("idempotency-key-reused");
    expect(empty.status).toBe(409);
    expect(await problemSlug(empty)).toBe("cart-empty");
    expect(dear.status).toBe(422);
    expect(await problemSlug(dear)).toBe("cod-limit-exceeded");
    // the held checkout went alone, the six queued ones in one batch after it
    expect(await scrape("codflow_checkout_accept_batch_size_count")).toBe(batchesBefore + 2);
    expect(await scrape("codflow_checkout_accept_queued")).toBe(0);

    // refused requests got their keys back, as a rollback would have given them
    await givenCart(emptyCart);
    expect((await emptyCart.checkout("key-e")).status).toBe(202);
    await fx.sql`delete from cart_lines where cart_id = (select id from carts where customer_id = ${tooDear.id})`;
    await givenCart(tooDear);
    expect((await tooDear.checkout("key-t")).status).toBe(202);
  });

  it("refuses a cart already in checkout on its own and accepts the rest of the batch together", async () => {
    const holder = await customer(fx);
    await givenCart(holder);
    const fresh = await Promise.all([customerWithCart(fx), customerWithCart(fx)]);
    const busy = await customerWithCart(fx);
    expect((await busy.shopper.checkout("key-1")).status).toBe(202);
    const batchesBefore = (await scrape("codflow_checkout_accept_batch_size_count")) ?? 0;

    const { held, others } = await queuedBehindHeldCheckout(holder, () => [
      ...fresh.map(({ shopper }) => shopper.checkout("key-f")),
      busy.shopper.checkout("key-2"),
    ]);

    await expectOnlyTheLastRefused(held, others, [...fresh.map((f) => f.shopper), busy.shopper]);
    // the held checkout alone, then the three in one transaction: none was tried again alone
    expect(await scrape("codflow_checkout_accept_batch_size_count")).toBe(batchesBefore + 2);
  });

  it("tries each request alone when a checkout of one of its carts commits while the batch runs", async () => {
    const holder = await customer(fx);
    await givenCart(holder);
    const fresh = await Promise.all([customerWithCart(fx), customerWithCart(fx)]);
    const racing = await customerWithCart(fx);
    const batchesBefore = (await scrape("codflow_checkout_accept_batch_size_count")) ?? 0;
    // another replica accepting a checkout of the same cart: inserted, not yet committed
    let commitRival = () => {};
    const rivalMayCommit = new Promise<void>((resolve) => {
      commitRival = resolve;
    });
    let rivalInserted = (_pid: number) => {};
    const rivalPid = new Promise<number>((resolve) => {
      rivalInserted = resolve;
    });
    const rival = fx.sql.begin(async (tx) => {
      const [own] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
      await tx`
        insert into checkouts (id, customer_id, cart_id, status, total_minor, currency, phone,
                               shipping_address)
        select gen_random_uuid(), customer_id, id, 'processing', 3000, 'EUR', '+4915100000000',
               '{}'::jsonb
        from carts where customer_id = ${racing.shopper.id}`;
      rivalInserted(own?.pid ?? 0);
      await rivalMayCommit;
    });
    const pid = await rivalPid;

    const answers = queuedBehindHeldCheckout(holder, () => [
      ...fresh.map(({ shopper }) => shopper.checkout("key-f")),
      racing.shopper.checkout("key-2"),
    ]);
    await waitFor(
      async () =>
        (
          await fx.sql`select 1 from pg_stat_activity where ${pid}::int = any(pg_blocking_pids(pid))`
        ).length > 0,
      { what: "the batch's insert to wait for the rival checkout of the same cart" },
    );
    commitRival();
    await rival;
    const { held, others } = await answers;

    // the racing customer has the rival's checkout only
    await expectOnlyTheLastRefused(held, others, [...fresh.map((f) => f.shopper), racing.shopper]);
    // the held checkout, the batch that failed on the index, then each of its three alone
    expect(await scrape("codflow_checkout_accept_batch_size_count")).toBe(batchesBefore + 5);
  });
});

/**
 * The answers of a batch of three whose last cart was already in checkout (key-2): the held
 * checkout and the first two accepted, the last refused with its key let go (as a rollback would
 * have), and one checkout per customer.
 */
async function expectOnlyTheLastRefused(
  held: Response,
  others: Response[],
  shoppers: readonly Shopper[],
) {
  expect(held.status).toBe(202);
  const [f1, f2, second] = others as [Response, Response, Response];
  expect([f1.status, f2.status]).toEqual([202, 202]);
  expect(second.status).toBe(409);
  expect(await problemSlug(second)).toBe("checkout-in-progress");
  expect(await checkoutsPerCustomer(shoppers)).toEqual([1, 1, 1]);
  expect(await fx.sql`select 1 from idempotency_keys where key = 'key-2'`).toHaveLength(0);
}

async function checkoutsPerCustomer(shoppers: readonly Shopper[]) {
  const ids = shoppers.map((s) => s.id);
  const rows = await fx.sql<{ customerId: string; n: number }[]>`
    select customer_id as "customerId", count(*)::int as n from checkouts
    where customer_id in ${fx.sql(ids)} group by customer_id`;
  const counts = new Map(rows.map((row) => [row.customerId, row.n]));
  return ids.map((id) => counts.get(id) ?? 0);
}

describe("a checkout the insert did not write", () => {
  it("fails its request and rolls back, so its key and no event outlive it", async () => {
    const { shopper } = await customerWithCart(fx);
    // a trigger that drops this customer's checkout row: the insert returns no row for it
    const fn = `drop_checkout_of_${shopper.id.replace(/\W/g, "_")}`;
    await fx.sql.unsafe(`
      create function ${fn}() returns trigger language plpgsql as $$ begin
        if new.customer_id = '${shopper.id}' then return null; end if;
        return new;
      end $$`);
    await fx.sql.unsafe(
      `create trigger ${fn} before insert on checkouts for each row execute function ${fn}()`,
    );
    try {
      expect((await shopper.checkout("key-d")).status).toBe(500);
    } finally {
      await fx.sql.unsafe(`drop trigger ${fn} on checkouts; drop function ${fn}()`);
    }

    expect(await fx.sql`select 1 from idempotency_keys where customer_id = ${shopper.id}`).toEqual(
      [],
    );
    expect(
      await fx.sql`select 1 from outbox where envelope -> 'data' ->> 'customerId' = ${shopper.id}`,
    ).toEqual([]);
    expect((await shopper.checkout("key-d")).status).toBe(202);
  });
});

/** One item of `priceMinor` in the shopper's cart. */
async function givenCart(shopper: Shopper, priceMinor = 12_50) {
  const item = await givenVariant(fx, { priceMinor });
  expect((await shopper.addLine(item.variantId, 1)).status).toBe(201);
}
