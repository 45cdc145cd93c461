import { type EventData, type RunningConsumer, startConsumer } from "@codflow/shared";
import { shirtAndSocks, startTestPlatform } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import {
  createDispatcher,
  createMailTransport,
  createNotifierMetrics,
  onCheckoutConfirmed,
  onCheckoutFailed,
  onOrdersCancelled,
  onOrdersDelivered,
  onOrdersDeliveryFailed,
  onOrdersShipped,
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
  const platform = await startTestPlatform("notifier");
  const { sql, logger, consumerDeps } = platform;
  const startConsumers = () => [
    startConsumer(consumerDeps, onCheckoutConfirmed()),
    startConsumer(consumerDeps, onCheckoutFailed()),
    startConsumer(consumerDeps, onOrdersShipped()),
    startConsumer(consumerDeps, onOrdersDeliveryFailed()),
    startConsumer(consumerDeps, onOrdersDelivered()),
    startConsumer(consumerDeps, onOrdersCancelled()),
  ];
  let consumers: RunningConsumer[] = startConsumers();
  const transport = createMailTransport(`smtp://127.0.0.1:${smtpPort}`);
  const mailerOptions = {
    sql,
    logger,
    metrics: createNotifierMetrics(platform.metrics),
    transport,
    from: MAIL_FROM,
    maxAttempts,
    retryBaseMs,
    pollMs: 50,
  };
  const mailer = startMailer(mailerOptions);

  return {
    ...platform,
    mailer,
    /** One more dispatch pass, run by the test itself: sends whatever is due right now. */
    dispatchDue: createDispatcher(mailerOptions),
    async restartConsumers() {
      await Promise.all(consumers.map((c) => c.stop()));
      consumers = startConsumers();
    },
    async close() {
      await Promise.all(consumers.map((c) => c.stop()));
      await mailer.stop();
      transport.close();
      await platform.close();
    },
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
  items: shirtAndSocks(),
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
