import {
  createServiceApp,
  type Db,
  type Logger,
  type Metrics,
  type ReadinessCheck,
  type TokenVerifier,
} from "@codflow/shared";
import { registerOrderRoutes } from "./http/orders.ts";
import { createOrdersMetrics } from "./metrics.ts";

export interface AppDeps {
  logger: Logger;
  metrics: Metrics;
  readiness: ReadinessCheck[];
  verifyToken: TokenVerifier;
  db: Db;
}

export function createApp(deps: AppDeps) {
  const app = createServiceApp({
    service: "orders",
    logger: deps.logger,
    metrics: deps.metrics,
    readiness: deps.readiness,
  });
  createOrdersMetrics(deps.metrics); // exported from the start, at 0
  registerOrderRoutes(app, deps);
  return app;
}
