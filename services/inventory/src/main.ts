import { loadConfigOrExit, runService, startConsumer, startPlatform } from "@codflow/shared";
import { createApp } from "./app.ts";
import { configSchema } from "./config.ts";
import { onCheckoutFailed } from "./consumers/on-checkout-failed.ts";
import { onCheckoutRequested } from "./consumers/on-checkout-requested.ts";
import { onOrdersCancelled } from "./consumers/on-orders-cancelled.ts";
import { onOrdersConfirmed } from "./consumers/on-orders-confirmed.ts";
import { onOrdersFailed } from "./consumers/on-orders-failed.ts";
import { onOrdersReturned } from "./consumers/on-orders-returned.ts";
import { startExpirySweeper } from "./expiry-sweeper.ts";
import { createInventoryMetrics } from "./metrics.ts";

const config = loadConfigOrExit("inventory", configSchema);

const platform = await startPlatform(config, {
  migrationsFolder: new URL("./db/migrations", import.meta.url),
});
const { logger } = platform;
const metrics = createInventoryMetrics(platform.metrics);
const app = createApp({
  sql: platform.database.sql,
  namespace: platform.broker.namespace,
  verifyToken: platform.verifyToken,
  logger,
  metrics: platform.metrics,
  readiness: platform.readiness,
  liveness: platform.liveness,
});
const consumers = [
  startConsumer(
    platform.consumerDeps,
    onCheckoutRequested({ reservationTtlSeconds: config.RESERVATION_TTL_SECONDS, metrics }),
  ),
  startConsumer(platform.consumerDeps, onOrdersConfirmed({ logger, metrics })),
  startConsumer(platform.consumerDeps, onOrdersFailed()),
  startConsumer(platform.consumerDeps, onCheckoutFailed()),
  startConsumer(platform.consumerDeps, onOrdersCancelled()),
  startConsumer(platform.consumerDeps, onOrdersReturned({ logger })),
];
const expirySweeper = startExpirySweeper({
  sql: platform.database.sql,
  namespace: platform.broker.namespace,
  logger,
  metrics,
  pollMs: config.RESERVATION_SWEEP_INTERVAL_MS,
});
await runService(platform, { app, consumers, workers: [expirySweeper] });
