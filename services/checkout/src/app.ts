import {
  createServiceApp,
  type LivenessCheck,
  type Logger,
  type Metrics,
  type ReadinessCheck,
  type Sql,
  type TokenVerifier,
} from "@codflow/shared";
import type { Config } from "./config.ts";
import { registerCartRoutes } from "./http/cart.ts";
import { registerCheckoutRoutes } from "./http/checkouts.ts";
import { registerCodProfileRoutes } from "./http/cod-profile.ts";
import { registerPhoneRoutes } from "./http/phone.ts";
import { createCheckoutMetrics } from "./metrics.ts";
import type { StatusWatch } from "./status-watch.ts";

export interface AppDeps {
  config: Pick<
    Config,
    | "COD_MAX_ORDER_MINOR"
    | "COD_MAX_ACTIVE_ORDERS"
    | "CHECKOUT_ACCEPT_CONCURRENCY"
    | "PHONE_OTP_TTL_SECONDS"
    | "PHONE_OTP_RESEND_SECONDS"
    | "PHONE_OTP_SENDS_PER_HOUR"
    | "RATE_LIMIT_CHECKOUT_PER_CUSTOMER"
    | "RATE_LIMIT_CHECKOUT_PER_IP"
    | "RATE_LIMIT_CHECKOUT_WINDOW_SECONDS"
    | "RATE_LIMIT_OTP_PER_CUSTOMER"
    | "RATE_LIMIT_OTP_PER_IP"
    | "RATE_LIMIT_OTP_WINDOW_SECONDS"
  >;
  sql: Sql;
  /** The NATS namespace events are appended under. */
  namespace: string;
  logger: Logger;
  metrics: Metrics;
  readiness: ReadinessCheck[];
  liveness?: LivenessCheck;
  verifyToken: TokenVerifier;
  statusWatch: StatusWatch;
}

export function createApp(deps: AppDeps) {
  const app = createServiceApp({
    service: "checkout",
    logger: deps.logger,
    metrics: deps.metrics,
    readiness: deps.readiness,
    liveness: deps.liveness,
  });
  createCheckoutMetrics(deps.metrics).observe(deps.sql, deps.logger);
  registerCartRoutes(app, deps);
  registerCheckoutRoutes(app, deps);
  registerPhoneRoutes(app, deps);
  registerCodProfileRoutes(app, deps);
  return app;
}
