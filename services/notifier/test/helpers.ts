import {
  connectBroker,
  createDatabase,
  createLogger,
  createMetrics,
  type Envelope,
  type EventData,
  type EventType,
  ensureStreams,
  eventCatalog,
  type RunningConsumer,
  startConsumer,
  subjectFor,
} from "@codflow/shared";
import { createTestDatabase, uniqueNamespace } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import {
  createDispatcher,
  createMailTransport,
  createNotifierMetrics,
  onCheckoutConfirmed,
  onCheckoutFailed,
  startMailer,
} from "../src/index.ts";

export const MAIL_FROM = "codflow <no-reply@codflow.test>";

/**
 * A private database and NATS namespace for one test file, the notifier consumers and a mailer
 * sending to `smtp://127.0.0.1:<smtpPort>` with quick retries.
 */
export async function startNotifierFixture({
  smtpPort,
  maxAttempts = 8,
  retryBaseMs = 100,
}: {
  smtpPort: number;
  maxAttempts?: number;
  retryBaseMs?: number;
}) {
  const testDb = await createTestDatabase("notifier");
  const logger = createLogger({
    service: "notifier-test",
    level: process.env.TEST_LOG_LEVEL ?? "silent",
  });
  const metrics = createMetrics("notifier-test");
  const notifierMetrics = createNotifierMetrics(metrics);
  const database = createDatabase(testDb.url, { max: 6 });
  const namespace = uniqueNamespace("notifier");
  const broker = await connectBroker({
    url: "nats://127.0.0.1:4222",
    namespace,
    name: "notifier-test",
    logger,
  });
  await ensureStreams(broker);
  const consumerDeps = { sql: database.sql, broker, logger, metrics };
  const startConsumers = () => [
    startConsumer(consumerDeps, onCheckoutConfirmed()),
    startConsumer(consumerDeps, onCheckoutFailed()),
  ];
  let consumers: RunningConsumer[] = startConsumers();
  const transport = createMailTransport(`smtp://127.0.0.1:${smtpPort}`);
  const mailerOptions = {
    sql: database.sql,
    logger,
    metrics: notifierMetrics,
    transport,
    from: MAIL_FROM,
    maxAttempts,
    retryBaseMs,
    pollMs: 50,
  };
  const mailer = startMailer(mailerOptions);

  return {
    sql: database.sql,
    metrics,
    mailer,
    /** One more dispatch pass, run by the test itself: sends whatever is due right now. */
    dispatchDue: createDispatcher(mailerOptions),
    async publish<T extends EventType>(
      type: T,
      data: EventData<T>,
      { envelope, msgID }: { envelope?: Envelope<T, EventData<T>>; msgID?: string } = {},
    ) {
      const sent = envelope ?? makeEnvelope(type, data);
      await broker.js.publish(subjectFor(namespace, type), JSON.stringify(sent), {
        msgID: msgID ?? sent.id,
      });
      return sent;
    },
    async restartConsumers() {
      await Promise.all(consumers.map((c) => c.stop()));
      consumers = startConsumers();
    },
    async counter(name: string, labels: Record<string, string>) {
      const metric = metrics.registry.getSingleMetric(name);
      const values = metric ? (await metric.get()).values : [];
      const found = values.find((v) =>
        Object.entries(labels).every(
          ([k, want]) => (v.labels as Record<string, unknown>)[k] === want,
        ),
      );
      return found?.value ?? 0;
    },
    async close() {
      await Promise.all(consumers.map((c) => c.stop()));
      await mailer.stop();
      transport.close();
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
  data: EventData<T>,
): Envelope<T, EventData<T>> {
  return {
    id: uuidv7(),
    type,
    version: eventCatalog[type].version,
    occurredAt: new Date().toISOString(),
    correlationId: (data as { checkoutId: string }).checkoutId,
    causationId: null,
    data,
  };
}

let customers = 0;
/** A fresh customer address, so each test counts only its own emails. */
export const newCustomerEmail = () => `customer-${++customers}-${uuidv7().slice(-8)}@example.com`;

export const confirmedData = (customerEmail: string | null): EventData<"checkout.confirmed"> => ({
  checkoutId: uuidv7(),
  customerId: "customer-1",
  customerEmail,
  orderId: uuidv7(),
  orderNumber: `CF-${String(++customers).padStart(6, "0")}`,
  items: [
    {
      variantId: uuidv7(),
      productSlug: "blue-shirt",
      vendorId: uuidv7(),
      sku: "SHIRT-BLUE-M",
      title: "Blue shirt (M)",
      unitPriceMinor: 1250,
      qty: 2,
    },
    {
      variantId: uuidv7(),
      productSlug: "socks",
      vendorId: uuidv7(),
      sku: "SOCKS-1",
      title: "Socks",
      unitPriceMinor: 999,
      qty: 1,
    },
  ],
  totalMinor: 3499,
  currency: "EUR",
});

export const failedData = (customerEmail: string | null): EventData<"checkout.failed"> => ({
  checkoutId: uuidv7(),
  customerId: "customer-1",
  customerEmail,
  reason: "out_of_stock",
  detail: "variant 0190f2a0 short by 2",
});
