import { createMetrics, startHttpServer } from "@codflow/shared";
import type { HonoConfigType } from "hono-rate-limiter";
import postgres from "postgres";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresRateLimitStore } from "../src/db/rate-limit-store.ts";
import { createApp, deleteExpiredRateLimits } from "../src/index.ts";
import {
  type CheckoutFixture,
  checkoutBody,
  customer,
  json,
  type ProblemJson,
  problemSlug,
  startCheckoutFixture,
} from "./helpers.ts";

let fx: CheckoutFixture;
beforeAll(async () => {
  fx = await startCheckoutFixture({
    config: {
      RATE_LIMIT_CHECKOUT_PER_CUSTOMER: 2,
      RATE_LIMIT_CHECKOUT_PER_IP: 3,
      RATE_LIMIT_OTP_PER_CUSTOMER: 2,
      RATE_LIMIT_OTP_PER_IP: 3,
      PHONE_OTP_RESEND_SECONDS: 0,
    },
  });
});
afterAll(() => fx.close());

let ipCounter = 0;
/** A client address of this test's own, as the gateway would forward it. */
const freshIp = () => ({ "x-forwarded-for": `203.0.113.${++ipCounter}` });

type Shopper = Awaited<ReturnType<typeof customer>>;
/** Checkouts of an empty cart: refused (409), but counted like any request. */
const tryCheckout = (shopper: Shopper, headers: Record<string, string>) =>
  shopper.checkout(uuidv7(), checkoutBody(), headers);

async function expectRateLimited(res: Response, windowSeconds: number) {
  expect(res.status).toBe(429);
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  expect(await problemSlug(res)).toBe("rate-limited");
  const retryAfter = Number(res.headers.get("retry-after"));
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
}

describe("POST /v1/checkouts rate limits", () => {
  it("refuses a customer's 3rd checkout within the minute with 429 rate-limited and Retry-After; others go on", async () => {
    const ada = await customer(fx);
    const bob = await customer(fx);
    for (let i = 0; i < 2; i++) expect((await tryCheckout(ada, freshIp())).status).toBe(409);

    await expectRateLimited(await tryCheckout(ada, freshIp()), 60);
    expect((await tryCheckout(bob, freshIp())).status).toBe(409);
  });

  it("refuses an IP's 4th checkout within the minute, whoever sends it, and counts the gateway's last hop", async () => {
    const ip = freshIp()["x-forwarded-for"];
    const shoppers = await Promise.all(Array.from({ length: 4 }, () => customer(fx)));
    for (const shopper of shoppers.slice(0, 3)) {
      // the client's own X-Forwarded-For entries come first; the gateway appends what it saw
      const forged = { "x-forwarded-for": `198.51.100.${ipCounter}, ${ip}` };
      expect((await tryCheckout(shopper, forged)).status).toBe(409);
    }

    await expectRateLimited(
      await tryCheckout(shoppers[3] as Shopper, { "x-forwarded-for": ip }),
      60,
    );
    expect((await tryCheckout(shoppers[3] as Shopper, freshIp())).status).toBe(409);
  });

  it("starts a fresh window once the old one has passed", async () => {
    const ada = await customer(fx);
    await tryCheckout(ada, freshIp());
    await tryCheckout(ada, freshIp());
    await expectRateLimited(await tryCheckout(ada, freshIp()), 60);

    await fx.sql`
      update rate_limit_hits set reset_at = now() - interval '1 second'
      where key = ${`checkout:customer:${ada.id}`}`;

    expect((await tryCheckout(ada, freshIp())).status).toBe(409);
    const [row] =
      await fx.sql`select hits from rate_limit_hits where key = ${`checkout:customer:${ada.id}`}`;
    expect(row?.hits).toBe(1);
  });

  it("counts one customer's requests across replicas (the counters live in Postgres)", async () => {
    const replica = createApp({ ...fx.deps, metrics: createMetrics("checkout-replica-2") });
    const ada = await customer(fx);
    await tryCheckout(ada, freshIp());
    await replica.request("/v1/checkouts", {
      method: "POST",
      headers: {
        authorization: `Bearer ${ada.token}`,
        "content-type": "application/json",
        "idempotency-key": uuidv7(),
        ...freshIp(),
      },
      body: JSON.stringify(checkoutBody()),
    });

    await expectRateLimited(await tryCheckout(ada, freshIp()), 60);
  });

  it("counts and refuses nothing per IP when the per-IP limit is 0 (an edge limits per IP)", async () => {
    const unlimited = createApp({
      ...fx.deps,
      config: { ...fx.deps.config, RATE_LIMIT_CHECKOUT_PER_IP: 0 },
      metrics: createMetrics("checkout-no-ip-limit"),
    });
    const ip = freshIp();
    const shoppers = await Promise.all(Array.from({ length: 5 }, () => customer(fx)));
    for (const shopper of shoppers) {
      const res = await unlimited.request("/v1/checkouts", {
        method: "POST",
        headers: {
          authorization: `Bearer ${shopper.token}`,
          "content-type": "application/json",
          "idempotency-key": uuidv7(),
          ...ip,
        },
        body: JSON.stringify(checkoutBody()),
      });
      expect(res.status).toBe(409);
    }
    const rows = await fx.sql`
      select 1 from rate_limit_hits where key = ${`checkout:ip:${ip["x-forwarded-for"]}`}`;
    expect(rows).toHaveLength(0);
  });

  it("takes the socket's address when no gateway forwarded the request", async () => {
    const server = await startHttpServer(fx.app, { port: 0, host: "127.0.0.1", logger: fx.logger });
    try {
      const ada = await customer(fx);
      const res = await fetch(`http://127.0.0.1:${server.port}/v1/checkouts`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${ada.token}`,
          "content-type": "application/json",
          "idempotency-key": uuidv7(),
        },
        body: JSON.stringify(checkoutBody()),
      });
      expect(res.status).toBe(409);
      const rows = await fx.sql<{ key: string }[]>`
        select key from rate_limit_hits where key like 'checkout:ip:%127.0.0.1'`;
      expect(rows).toHaveLength(1);
    } finally {
      await server.stop();
    }
  });
});

describe("OTP route rate limits", () => {
  it("limits code requests per customer (429 rate-limited with Retry-After)", async () => {
    const ada = await customer(fx);
    const send = () =>
      ada.call("POST", "/v1/me/phone/verification", { phone: checkoutBody().phone }, freshIp());
    expect((await send()).status).toBe(202);
    expect((await send()).status).toBe(202);

    await expectRateLimited(await send(), 600);
  });

  it("limits code confirmations per IP", async () => {
    const ip = freshIp();
    const shoppers = await Promise.all(Array.from({ length: 4 }, () => customer(fx)));
    const confirm = (shopper: Shopper) =>
      shopper.call("POST", "/v1/me/phone/verification/confirm", { code: "123456" }, ip);
    for (const shopper of shoppers.slice(0, 3)) expect((await confirm(shopper)).status).toBe(410);

    const limited = await confirm(shoppers[3] as Shopper);
    await expectRateLimited(limited.clone(), 600);
    expect((await json<ProblemJson>(limited)).detail).toMatch(/at most 3/);
  });
});

describe("the Postgres rate-limit store", () => {
  it("counts 50 concurrent hits of one client exactly, in one window", async () => {
    const store = new PostgresRateLimitStore(fx.sql, "store-test:");
    store.init({ windowMs: 60_000 } as HonoConfigType);

    const hits = await Promise.all(Array.from({ length: 50 }, () => store.increment("client")));

    expect(hits.map((h) => h.totalHits).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    expect(new Set(hits.map((h) => h.resetTime?.getTime())).size).toBe(1);
  });

  it("counts one turn's hits of several clients with one statement, each client's consecutively", async () => {
    const upserts: string[] = [];
    const sql = postgres(fx.databaseUrl, {
      max: 2,
      onnotice: () => {},
      debug: (_connection, query) => {
        if (query.includes("insert into rate_limit_hits as r")) upserts.push(query);
      },
    });
    try {
      const store = new PostgresRateLimitStore(sql, "turn-test:");
      store.init({ windowMs: 60_000 } as HonoConfigType);
      await sql`
        insert into rate_limit_hits (key, hits, reset_at)
        values ('turn-test:passed', 7, now() - interval '1 second'),
               ('turn-test:live', 7, now() + interval '1 minute')`;
      const clients = ["new", "passed", "live", "new", "live", "new"];

      const hits = await Promise.all(clients.map((client) => store.increment(client)));

      expect(upserts).toHaveLength(1);
      // in the order asked: a new window for "new" and "passed", the live one for "live"
      expect(hits.map((h) => h.totalHits)).toEqual([1, 1, 8, 2, 9, 3]);
      const later = await store.increment("live");
      expect(upserts).toHaveLength(2);
      expect(later.totalHits).toBe(10);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  it("sweeps windows that have passed and keeps the live ones", async () => {
    await fx.sql`
      insert into rate_limit_hits (key, hits, reset_at)
      values ('sweep:old', 3, now() - interval '1 minute'), ('sweep:live', 3, now() + interval '1 minute')`;

    await deleteExpiredRateLimits(fx.sql);

    const left = await fx.sql<
      { key: string }[]
    >`select key from rate_limit_hits where key like 'sweep:%'`;
    expect(left.map((r) => r.key)).toEqual(["sweep:live"]);
  });
});
