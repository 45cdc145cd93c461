export { type AppDeps, createApp } from "./app.ts";
export { type Config, configSchema } from "./config.ts";
export { onCheckoutRequested } from "./consumers/on-checkout-requested.ts";
export { onOrdersConfirmed } from "./consumers/on-orders-confirmed.ts";
export { onOrdersFailed } from "./consumers/on-orders-failed.ts";
