import { loadConfigOrExit, runService, startConsumer, startPlatform } from "@codflow/shared";
import { createApp } from "./app.ts";
import { configSchema } from "./config.ts";
import { onCheckoutFailed } from "./consumers/on-checkout-failed.ts";
import { onCheckoutRequested } from "./consumers/on-checkout-requested.ts";
import { onInventoryReserved } from "./consumers/on-inventory-reserved.ts";
import { onVendorUpserted } from "./consumers/on-vendor-upserted.ts";
import { createOrdersMetrics } from "./metrics.ts";

const config = loadConfigOrExit("orders", configSchema);

const platform = await startPlatform(config, {
  migrationsFolder: new URL("./db/migrations", import.meta.url),
});
const deps = {
  logger: platform.logger,
  metrics: platform.metrics,
  readiness: platform.readiness,
  liveness: platform.liveness,
  verifyToken: platform.verifyToken,
  db: platform.database.db,
  sql: platform.database.sql,
  namespace: platform.broker.namespace,
  maxDeliveryAttempts: config.MAX_DELIVERY_ATTEMPTS,
};
const app = createApp(deps);
const metrics = createOrdersMetrics(platform.metrics);
const consumers = [
  startConsumer(platform.consumerDeps, onVendorUpserted()),
  startConsumer(platform.consumerDeps, onCheckoutRequested()),
  startConsumer(platform.consumerDeps, onInventoryReserved({ logger: platform.logger, metrics })),
  startConsumer(platform.consumerDeps, onCheckoutFailed({ logger: platform.logger, metrics })),
];
await runService(platform, { app, consumers });
