import { createServiceApp, type Logger, type Metrics, type ReadinessCheck } from "@codflow/shared";

export interface AppDeps {
  logger: Logger;
  metrics: Metrics;
  readiness: ReadinessCheck[];
}

/** No public routes: `/healthz`, `/readyz`, `/metrics` and `/openapi.json` only. */
export function createApp(deps: AppDeps) {
  return createServiceApp({ service: "notifier", ...deps });
}
