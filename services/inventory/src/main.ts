import { loadConfigOrExit, runService, startConsumer, startPlatform } from "@codflow/shared";
import { createApp } from "./app.ts";
import { configSchema } from "./config.ts";
import { onCheckoutRequested } from "./consumers/on-checkout-requested.ts";
import { onOrdersConfirmed } from "./consumers/on-orders-confirmed.ts";
import { onOrdersFailed } from "./consumers/on-orders-failed.ts";

const config = loadConfigOrExit("inventory", configSchema);

const platform = await startPlatform(config);
const app = createApp({
  sql: platform.database.sql,
  namespace: platform.broker.namespace,
  verifyToken: platform.verifyToken,
  logger: platform.logger,
  metrics: platform.metrics,
  readiness: platform.readiness,
});
const consumers = [
  startConsumer(
    platform.consumerDeps,
    onCheckoutRequested({ reservationTtlSeconds: config.RESERVATION_TTL_SECONDS }),
  ),
  startConsumer(platform.consumerDeps, onOrdersConfirmed()),
  startConsumer(platform.consumerDeps, onOrdersFailed()),
];
await runService(platform, { app, consumers });
