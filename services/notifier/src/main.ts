import { loadConfigOrExit, runService, startConsumer, startPlatform } from "@codflow/shared";
import { createApp } from "./app.ts";
import { configSchema } from "./config.ts";
import { onCheckoutConfirmed } from "./consumers/on-checkout-confirmed.ts";
import { onCheckoutFailed } from "./consumers/on-checkout-failed.ts";
import { onOrdersCancelled } from "./consumers/on-orders-cancelled.ts";
import { onOrdersDelivered } from "./consumers/on-orders-delivered.ts";
import { onOrdersDeliveryFailed } from "./consumers/on-orders-delivery-failed.ts";
import { onOrdersShipped } from "./consumers/on-orders-shipped.ts";
import { onPhoneVerificationRequested } from "./consumers/on-phone-verification-requested.ts";
import { createMailTransport, startMailer } from "./mailer.ts";
import { createNotifierMetrics } from "./metrics.ts";
import { createSmsGateway } from "./sms-gateway.ts";

const config = loadConfigOrExit("notifier", configSchema);

const platform = await startPlatform(config, {
  migrationsFolder: new URL("./db/migrations", import.meta.url),
});
const app = createApp({
  logger: platform.logger,
  metrics: platform.metrics,
  readiness: platform.readiness,
  liveness: platform.liveness,
});
const emails = { lingerMs: config.NOTIFY_LINGER_MS };
const consumers = [
  ...[
    onCheckoutConfirmed(),
    onCheckoutFailed(),
    onOrdersShipped(),
    onOrdersDeliveryFailed(),
    onOrdersDelivered(),
    onOrdersCancelled(),
  ].map((spec) => startConsumer(platform.consumerDeps, spec, emails)),
  startConsumer(
    platform.consumerDeps,
    onPhoneVerificationRequested({
      sql: platform.database.sql,
      gateway: createSmsGateway(config.SMS_GATEWAY_URL),
      metrics: createNotifierMetrics(platform.metrics),
      logger: platform.logger,
    }),
  ),
];
const mailer = startMailer({
  sql: platform.database.sql,
  logger: platform.logger,
  metrics: createNotifierMetrics(platform.metrics),
  transport: createMailTransport(config.SMTP_URL),
  from: config.MAIL_FROM,
  maxAttempts: config.NOTIFY_MAX_ATTEMPTS,
  retryBaseMs: config.NOTIFY_RETRY_BASE_MS,
});
await runService(platform, { app, consumers, workers: [mailer] });
