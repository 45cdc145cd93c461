import { afterAll, beforeAll, expect, it } from "vitest";
import { createDatabase, type Database } from "../src/db.ts";
import { createServiceApp } from "../src/http/app.ts";
import { createLogger } from "../src/log.ts";
import { createMetrics } from "../src/metrics.ts";
import { dbCallWatchdog } from "../src/platform.ts";
import { inTransaction } from "../src/telemetry.ts";
import { createTestDatabase, waitFor } from "../src/testing/index.ts";

let testDb: Awaited<ReturnType<typeof createTestDatabase>>;
let database: Database;

beforeAll(async () => {
  testDb = await createTestDatabase("shared");
  database = createDatabase(testDb.url, { max: 2 });
});
afterAll(async () => {
  await database?.close();
  await testDb?.drop();
});

it("fails /healthz, naming the call, while a database call is in flight past its limit, and answers ok once it ends", async () => {
  const app = createServiceApp({
    service: "liveness-test",
    logger: createLogger({ service: "liveness-test", level: "silent" }),
    metrics: createMetrics("liveness-test"),
    readiness: [],
    liveness: dbCallWatchdog(1),
  });
  const healthz = async () => {
    const res = await app.request("/healthz");
    return { status: res.status, body: await res.json() };
  };
  expect(await healthz()).toEqual({
    status: 200,
    body: { status: "ok", service: "liveness-test" },
  });

  // a transaction that never ends by itself: what a wedged pool looks like from here
  let release = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const held = inTransaction(database.sql, "test.held", async (tx) => {
    await tx`select 1`;
    await gate;
  });
  expect((await healthz()).status).toBe(200); // in flight, but not yet for a second
  await waitFor(async () => (await healthz()).status === 503, {
    timeoutMs: 10_000,
    what: "/healthz to fail",
  });
  expect((await healthz()).body).toEqual({
    status: "stuck",
    service: "liveness-test",
    reason: expect.stringMatching(/^database call "test\.held" in flight for \d+ s \(limit 1 s\)$/),
  });

  release();
  await held;
  expect((await healthz()).status).toBe(200);
});

it("never fails with a limit of 0", async () => {
  let release = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const held = inTransaction(database.sql, "test.unlimited", async () => gate);
  const since = Date.now();
  // the same transaction fails a 1 s limit once a second has passed: the 0 limit still does not
  await waitFor(() => dbCallWatchdog(1)() !== undefined, { timeoutMs: 10_000, what: "1 s" });
  expect(Date.now() - since).toBeGreaterThanOrEqual(1000);
  expect(dbCallWatchdog(0)()).toBeUndefined();
  release();
  await held;
});
