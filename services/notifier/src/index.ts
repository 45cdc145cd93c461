export { type AppDeps, createApp } from "./app.ts";
export { type Config, configSchema, DEV_SMS_GATEWAY_URL, DEV_SMTP_URL } from "./config.ts";
export { onCheckoutConfirmed } from "./consumers/on-checkout-confirmed.ts";
export { onCheckoutFailed } from "./consumers/on-checkout-failed.ts";
export { onOrdersCancelled } from "./consumers/on-orders-cancelled.ts";
export { onOrdersDelivered } from "./consumers/on-orders-delivered.ts";
export { onOrdersDeliveryFailed } from "./consumers/on-orders-delivery-failed.ts";
export { onOrdersShipped } from "./consumers/on-orders-shipped.ts";
export { onPhoneVerificationRequested } from "./consumers/on-phone-verification-requested.ts";
export {
  createDispatcher,
  createMailTransport,
  type MailTransport,
  startMailer,
} from "./mailer.ts";
export { createNotifierMetrics } from "./metrics.ts";
export { createSmsGateway, type SmsGateway } from "./sms-gateway.ts";
