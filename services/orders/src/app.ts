import {
  createServiceApp,
  type Db,
  type LivenessCheck,
  type Logger,
  type Metrics,
  type ReadinessCheck,
  type Sql,
  type TokenVerifier,
} from "@codflow/shared";
import { registerAdminOrderRoutes } from "./http/admin-orders.ts";
import { registerOrderRoutes } from "./http/orders.ts";
import { createOrdersMetrics } from "./metrics.ts";

export interface AppDeps {
  logger: Logger;
  metrics: Metrics;
  readiness: ReadinessCheck[];
  liveness?: LivenessCheck;
  verifyToken: TokenVerifier;
  db: Db;
  /** For the lifecycle transactions (row lock, audit row, outbox). */
  sql: Sql;
  /** The NATS namespace lifecycle events are addressed to. */
  namespace: string;
  maxDeliveryAttempts: number;
}

export function createApp(deps: AppDeps) {
  const app = createServiceApp({
    service: "orders",
    logger: deps.logger,
    metrics: deps.metrics,
    readiness: deps.readiness,
    liveness: deps.liveness,
  });
  const moves = {
    sql: deps.sql,
    namespace: deps.namespace,
    metrics: createOrdersMetrics(deps.metrics), // exported from the start, at 0
    maxDeliveryAttempts: deps.maxDeliveryAttempts,
  };
  registerOrderRoutes(app, deps, moves);
  registerAdminOrderRoutes(app, deps, moves);
  return app;
}
