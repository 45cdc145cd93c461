export { type AppDeps, createApp } from "./app.ts";
export { type Config, configSchema } from "./config.ts";
export { onCheckoutFailed } from "./consumers/on-checkout-failed.ts";
export { onInventoryReserved } from "./consumers/on-inventory-reserved.ts";
export { onVendorUpserted } from "./consumers/on-vendor-upserted.ts";
export * from "./metrics.ts";
