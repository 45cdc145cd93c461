import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { prepareTemplate } from "@codflow/shared/testing";

/** Migrates one template database per service once; each test file then copies its own. */
const templates: Record<string, string> = {
  shared: "../packages/shared/test/migrations",
  checkout: "../services/checkout/src/db/migrations",
  inventory: "../services/inventory/src/db/migrations",
  orders: "../services/orders/src/db/migrations",
  notifier: "../services/notifier/src/db/migrations",
};

export default async function setup() {
  for (const [service, relative] of Object.entries(templates)) {
    const folder = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(folder)) await prepareTemplate(service, folder);
  }
}
