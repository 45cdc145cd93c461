import {
  createServiceApp,
  type Db,
  type Logger,
  type Metrics,
  type ReadinessCheck,
  type TokenVerifier,
} from "@codflow/shared";
import { registerOrderRoutes } from "./http/orders.ts";

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
  registerOrderRoutes(app, deps);
  return app;
}
