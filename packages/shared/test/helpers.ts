import { randomUUID } from "node:crypto";
import {
  type Broker,
  connectBroker,
  createDatabase,
  createLogger,
  createMetrics,
  type EventData,
  ensureStreams,
} from "../src/index.ts";
import { createTestDatabase, uniqueNamespace } from "../src/testing/index.ts";

/** A private database (messaging tables only) and NATS namespace for one test file. */
export async function startMessagingFixture() {
  const testDb = await createTestDatabase("shared");
  const logger = createLogger({
    service: "shared-test",
    level: process.env.TEST_LOG_LEVEL ?? "silent",
  });
  const metrics = createMetrics("shared-test");
  const database = createDatabase(testDb.url, { max: 6 });
  const namespace = uniqueNamespace();
  const broker: Broker = await connectBroker({
    url: "nats://127.0.0.1:4222",
    namespace,
    name: "test",
    logger,
  });
  await ensureStreams(broker);
  return {
    sql: database.sql,
    broker,
    logger,
    metrics,
    namespace,
    deps: { sql: database.sql, broker, logger, metrics },
    async close() {
      for (const name of (await broker.jsm.streams.names().next()) ?? []) {
        if (name.startsWith(namespace.toUpperCase())) await broker.jsm.streams.delete(name);
      }
      await broker.close();
      await database.close();
      await testDb.drop();
    },
  };
}

export const requestedData = (checkoutId = randomUUID()): EventData<"checkout.requested"> => ({
  checkoutId,
  customerId: "customer-1",
  lines: [{ variantId: randomUUID(), qty: 1, unitPriceMinor: 1000, currency: "EUR" }],
  totalMinor: 1000,
  currency: "EUR",
  phone: "+15555550100",
  shippingAddress: { name: "A", line1: "B", city: "C", postalCode: "1", country: "DE" },
});
