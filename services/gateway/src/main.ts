import { ConfigError, createLogger, startTelemetry } from "@codflow/shared";
import { loadGatewayConfig } from "./config.ts";
import { startGateway } from "./server.ts";

function loadConfigOrExit() {
  try {
    return loadGatewayConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}

const config = loadConfigOrExit();
const telemetry = startTelemetry({
  service: "gateway",
  endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
});
const logger = createLogger({ service: "gateway", level: config.LOG_LEVEL });

const gateway = await startGateway({ config, logger });
logger.info(
  {
    url: gateway.url,
    checkout: config.CHECKOUT_URL,
    inventory: config.INVENTORY_URL,
    orders: config.ORDERS_URL,
  },
  "gateway listening",
);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, async () => {
    logger.info({ signal }, "shutting down");
    await gateway.close();
    await telemetry.shutdown().catch(() => {});
    logger.info("stopped");
    process.exit(0);
  });
}
