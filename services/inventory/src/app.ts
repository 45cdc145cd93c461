import {
  createServiceApp,
  type LivenessCheck,
  type Logger,
  type Metrics,
  type ReadinessCheck,
} from "@codflow/shared";
import type { RouteDeps } from "./http/deps.ts";
import { registerProductRoutes } from "./http/products.ts";
import { registerPublicProductRoutes } from "./http/public-products.ts";
import { registerVariantRoutes } from "./http/variants.ts";
import { registerVendorRoutes } from "./http/vendors.ts";
import { createInventoryMetrics } from "./metrics.ts";

export interface AppDeps extends RouteDeps {
  logger: Logger;
  metrics: Metrics;
  readiness: ReadinessCheck[];
  liveness?: LivenessCheck;
}

/** The inventory HTTP app: admin catalog and stock routes, and the public product read. */
export function createApp(deps: AppDeps) {
  const app = createServiceApp({
    service: "inventory",
    logger: deps.logger,
    metrics: deps.metrics,
    readiness: deps.readiness,
    liveness: deps.liveness,
  });
  createInventoryMetrics(deps.metrics).observe(deps.sql, deps.logger);
  registerVendorRoutes(app, deps);
  registerProductRoutes(app, deps);
  registerVariantRoutes(app, deps);
  registerPublicProductRoutes(app, deps);
  return app;
}
