export { type AppDeps, createApp } from "./app.ts";
export { type Config, configSchema } from "./config.ts";
export { onCheckoutFailed } from "./consumers/on-checkout-failed.ts";
export { onCheckoutRequested } from "./consumers/on-checkout-requested.ts";
export { onInventoryReserved } from "./consumers/on-inventory-reserved.ts";
export { onVendorUpserted } from "./consumers/on-vendor-upserted.ts";
export { LIFECYCLE, lifecycleMarkdown } from "./domain/lifecycle.ts";
export * from "./metrics.ts";
