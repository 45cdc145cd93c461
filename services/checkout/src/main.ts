import {
  loadConfigOrExit,
  runService,
  startConsumer,
  startPlatform,
  startWorkerLoop,
} from "@codflow/shared";
import { createApp } from "./app.ts";
import { configSchema } from "./config.ts";
import { onInventoryCommitted } from "./consumers/on-inventory-committed.ts";
import { onInventoryRejected } from "./consumers/on-inventory-rejected.ts";
import { onInventoryReservationExpired } from "./consumers/on-inventory-reservation-expired.ts";
import { onInventoryVariantUpserted } from "./consumers/on-inventory-variant-upserted.ts";
import { onOrdersCancelled } from "./consumers/on-orders-cancelled.ts";
import { onOrdersDelivered } from "./consumers/on-orders-delivered.ts";
import { onOrdersDeliveryFailed } from "./consumers/on-orders-delivery-failed.ts";
import { onOrdersFailed } from "./consumers/on-orders-failed.ts";
import { onOrdersReturned } from "./consumers/on-orders-returned.ts";
import { deleteExpiredRateLimits } from "./db/rate-limit-store.ts";
import { createCheckoutMetrics } from "./metrics.ts";
import { startRedriver } from "./redriver.ts";
import { startStatusWatch } from "./status-watch.ts";

const config = loadConfigOrExit("checkout", configSchema);

const platform = await startPlatform(config, {
  migrationsFolder: new URL("./db/migrations", import.meta.url),
});
const { database, broker, logger, metrics, consumerDeps } = platform;
const checkoutMetrics = createCheckoutMetrics(metrics);
const statusWatch = startStatusWatch({ sql: database.sql, logger, metrics });

const app = createApp({
  config,
  sql: database.sql,
  namespace: broker.namespace,
  logger,
  metrics,
  readiness: platform.readiness,
  liveness: platform.liveness,
  verifyToken: platform.verifyToken,
  statusWatch,
});

const outcomeDeps = { logger, metrics: checkoutMetrics };
const incidentDeps = {
  rules: {
    threshold: config.COD_AUTO_DISABLE_THRESHOLD,
    windowDays: config.COD_AUTO_DISABLE_WINDOW_DAYS,
  },
};
const consumers = [
  startConsumer(consumerDeps, onInventoryVariantUpserted()),
  startConsumer(consumerDeps, onInventoryRejected(outcomeDeps)),
  startConsumer(consumerDeps, onInventoryReservationExpired(outcomeDeps)),
  startConsumer(consumerDeps, onInventoryCommitted(outcomeDeps)),
  startConsumer(consumerDeps, onOrdersFailed(outcomeDeps)),
  startConsumer(consumerDeps, onOrdersDelivered()),
  startConsumer(consumerDeps, onOrdersCancelled()),
  startConsumer(consumerDeps, onOrdersDeliveryFailed(incidentDeps)),
  startConsumer(consumerDeps, onOrdersReturned(incidentDeps)),
];

const workers = [
  startRedriver({
    config,
    sql: database.sql,
    namespace: broker.namespace,
    logger,
    metrics: checkoutMetrics,
  }),
  startWorkerLoop({
    name: "rate-limit-sweeper",
    sql: database.sql,
    pollMs: 60_000,
    logger,
    runOnce: async () => ({ more: (await deleteExpiredRateLimits(database.sql)) > 0 }),
  }),
];

await runService(platform, {
  app,
  consumers,
  workers,
  streams: [statusWatch],
});
