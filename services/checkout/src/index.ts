export { type AppDeps, createApp } from "./app.ts";
export { type Config, configSchema } from "./config.ts";
export { onInventoryRejected } from "./consumers/on-inventory-rejected.ts";
export { onInventoryVariantUpserted } from "./consumers/on-inventory-variant-upserted.ts";
export { onOrdersConfirmed } from "./consumers/on-orders-confirmed.ts";
export { onOrdersFailed } from "./consumers/on-orders-failed.ts";
export { upsertCatalogVariant } from "./db/catalog.ts";
export { type StatusWatch, startStatusWatch } from "./status-watch.ts";
