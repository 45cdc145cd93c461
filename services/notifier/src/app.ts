import {
  createServiceApp,
  type LivenessCheck,
  type Logger,
  type Metrics,
  type ReadinessCheck,
} from "@codflow/shared";
import { createNotifierMetrics } from "./metrics.ts";

export interface AppDeps {
  logger: Logger;
  metrics: Metrics;
  readiness: ReadinessCheck[];
  liveness?: LivenessCheck;
}

/** No public routes: `/healthz`, `/readyz`, `/metrics` and `/openapi.json` only. */
export function createApp(deps: AppDeps) {
  createNotifierMetrics(deps.metrics); // the notifier's series exist from the first scrape
  return createServiceApp({ service: "notifier", ...deps });
}
