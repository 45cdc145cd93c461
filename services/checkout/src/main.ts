import { ConfigError, loadConfig, runService, startConsumer, startPlatform } from "@codflow/shared";
import { createApp } from "./app.ts";
import { type Config, configSchema } from "./config.ts";
import { onInventoryRejected } from "./consumers/on-inventory-rejected.ts";
import { onInventoryVariantUpserted } from "./consumers/on-inventory-variant-upserted.ts";
import { onOrdersConfirmed } from "./consumers/on-orders-confirmed.ts";
import { onOrdersFailed } from "./consumers/on-orders-failed.ts";
import { startStatusWatch } from "./status-watch.ts";

let config: Config;
try {
  config = loadConfig("checkout", configSchema);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(1);
}

const platform = await startPlatform(config);
const { database, broker, logger, metrics, consumerDeps } = platform;
const statusWatch = startStatusWatch({ sql: database.sql, logger });
// runService stops HTTP first, and the HTTP server waits for open responses: end the SSE
// streams and waits first, or SIGTERM would hang on them until the grace period runs out.
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => void statusWatch.close());
}

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
  workers: [{ wake: statusWatch.wake, stop: statusWatch.close }],
});
