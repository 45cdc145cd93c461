import { randomUUID } from "node:crypto";
import {
  type ConsumerOptions,
  connectBroker,
  createDatabase,
  createLogger,
  createMetrics,
  createTokenVerifier,
  DEV_JWT_SECRET,
  type Envelope,
  type EventData,
  type EventType,
  ensureStreams,
  eventCatalog,
  type Metrics,
  type RunningConsumer,
  startConsumer,
  startOutboxRelay,
  subjectFor,
} from "@codflow/shared";
import { createTestDatabase, uniqueNamespace } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import { createApp, onInventoryReserved, onVendorUpserted } from "../src/index.ts";

/**
 * A private database and NATS namespace for one test file, with the real outbox relay and the
 * orders consumers running (fast back-off so retries are quick).
 */
export async function startOrdersFixture({
  consumerOptions = { baseBackoffMs: 100, maxBackoffMs: 1000 },
}: {
  consumerOptions?: ConsumerOptions;
} = {}) {
  const testDb = await createTestDatabase("orders");
  const logger = createLogger({
    service: "orders-test",
    level: process.env.TEST_LOG_LEVEL ?? "silent",
  });
  const metrics = createMetrics("orders-test");
  const database = createDatabase(testDb.url, { max: 6 });
  const namespace = uniqueNamespace("orders");
  const broker = await connectBroker({
    url: "nats://127.0.0.1:4222",
    namespace,
    name: "orders-test",
    logger,
  });
  await ensureStreams(broker);
  const relay = startOutboxRelay({ sql: database.sql, broker, logger, metrics, pollMs: 100 });
  const consumerDeps = { sql: database.sql, broker, logger, metrics };
  const consumers: RunningConsumer[] = [
    startConsumer(consumerDeps, onVendorUpserted(), consumerOptions),
    startConsumer(consumerDeps, onInventoryReserved({ logger }), consumerOptions),
  ];
  const app = createApp({
    logger,
    metrics,
    readiness: [],
    verifyToken: createTokenVerifier({ secret: DEV_JWT_SECRET }),
    db: database.db,
  });

  /** Publishes an input event as its producer's relay would; returns the envelope. */
  async function publish<T extends EventType>(
    type: T,
    data: EventData<T>,
    { envelope, msgID }: { envelope?: Envelope<T, unknown>; msgID?: string } = {},
  ) {
    const sent = envelope ?? makeEnvelope(type, data);
    await broker.js.publish(subjectFor(namespace, type), JSON.stringify(sent), {
      msgID: msgID ?? sent.id,
    });
    return sent;
  }

  return {
    sql: database.sql,
    db: database.db,
    broker,
    namespace,
    metrics,
    app,
    publish,
    async close() {
      await Promise.all(consumers.map((c) => c.stop()));
      await relay.stop();
      for (const name of (await broker.jsm.streams.names().next()) ?? []) {
        if (name.startsWith(namespace.toUpperCase())) await broker.jsm.streams.delete(name);
      }
      await broker.close();
      await database.close();
      await testDb.drop();
    },
  };
}

export function makeEnvelope<T extends EventType>(
  type: T,
  data: EventData<T> | unknown,
  correlationId?: string,
) {
  return {
    id: uuidv7(),
    type,
    version: eventCatalog[type].version,
    occurredAt: new Date().toISOString(),
    correlationId: correlationId ?? (data as { checkoutId?: string }).checkoutId ?? randomUUID(),
    causationId: null,
    data,
  };
}

export const vendorData = (
  vendorId = uuidv7(),
  revision = 1,
): EventData<"inventory.vendor_upserted"> => ({
  vendorId,
  name: `Vendor ${revision}`,
  slug: `vendor-${vendorId.slice(-6)}`,
  revision,
});

/** A two-line reservation for `vendorId`: 2 × 1250 + 1 × 999 = 3499 EUR cents. */
export const reservedData = (
  vendorId: string,
  {
    customerId = "customer-1",
    checkoutId = uuidv7(),
  }: { customerId?: string; checkoutId?: string } = {},
): EventData<"inventory.reserved"> => ({
  checkoutId,
  reservationId: uuidv7(),
  expiresAt: new Date(Date.now() + 15 * 60_000).toISOString(),
  customerId,
  phone: "+15555550100",
  shippingAddress: {
    name: "Ada Lovelace",
    line1: "1 Main St",
    city: "Berlin",
    postalCode: "10115",
    country: "DE",
  },
  lines: [
    {
      variantId: uuidv7(),
      productSlug: "blue-shirt",
      vendorId,
      sku: "SHIRT-BLUE-M",
      title: "Blue shirt (M)",
      unitPriceMinor: 1250,
      qty: 2,
    },
    {
      variantId: uuidv7(),
      productSlug: "socks",
      vendorId,
      sku: "SOCKS-1",
      title: "Socks",
      unitPriceMinor: 999,
      qty: 1,
    },
  ],
  totalMinor: 3499,
  currency: "EUR",
});

/** The current value of a counter for exactly these labels (0 when never incremented). */
export async function counterValue(
  counter: Metrics["consumerResults"] | Metrics["deadLetters"],
  labels: Record<string, string>,
) {
  const { values } = await counter.get();
  const found = values.find((v) =>
    Object.entries(labels).every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want),
  );
  return found?.value ?? 0;
}
