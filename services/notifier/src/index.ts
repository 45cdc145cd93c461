export { type AppDeps, createApp } from "./app.ts";
export { type Config, configSchema, DEV_SMTP_URL } from "./config.ts";
export { onCheckoutConfirmed } from "./consumers/on-checkout-confirmed.ts";
export { onCheckoutFailed } from "./consumers/on-checkout-failed.ts";
export {
  createDispatcher,
  createMailTransport,
  type MailTransport,
  startMailer,
} from "./mailer.ts";
export { createNotifierMetrics } from "./metrics.ts";
