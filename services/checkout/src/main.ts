import { loadConfigOrExit, runService, startConsumer, startPlatform } from "@codflow/shared";
import { createApp } from "./app.ts";
import { configSchema } from "./config.ts";
import { onInventoryRejected } from "./consumers/on-inventory-rejected.ts";
import { onInventoryVariantUpserted } from "./consumers/on-inventory-variant-upserted.ts";
import { onOrdersConfirmed } from "./consumers/on-orders-confirmed.ts";
import { onOrdersFailed } from "./consumers/on-orders-failed.ts";
import { startStatusWatch } from "./status-watch.ts";

const config = loadConfigOrExit("checkout", configSchema);

const platform = await startPlatform(config);
const { database, broker, logger, metrics, consumerDeps } = platform;
const statusWatch = startStatusWatch({ sql: database.sql, logger });

const app = createApp({
  config,
  sql: database.sql,
  namespace: broker.namespace,
  logger,
  metrics,
  readiness: platform.readiness,
  verifyToken: platform.verifyToken,
  statusWatch,
});

const consumers = [
  startConsumer(consumerDeps, onInventoryVariantUpserted()),
  startConsumer(consumerDeps, onInventoryRejected({ logger })),
  startConsumer(consumerDeps, onOrdersConfirmed({ logger })),
  startConsumer(consumerDeps, onOrdersFailed({ logger })),
];

await runService(platform, {
  app,
  consumers,
  streams: [statusWatch],
});
