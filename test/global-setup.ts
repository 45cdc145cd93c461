import { existsSync } from "node:fs";
import { MIGRATION_FOLDERS, prepareTemplate } from "@codflow/shared/testing";

/** Migrates one template database per service once; each test file then copies its own. */
export default async function setup() {
  for (const [service, folder] of Object.entries(MIGRATION_FOLDERS)) {
    if (existsSync(folder)) await prepareTemplate(service);
  }
}
