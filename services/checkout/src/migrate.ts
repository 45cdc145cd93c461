import { fileURLToPath } from "node:url";
import { loadConfig, migrateDatabase } from "@codflow/shared";
import { configSchema } from "./config.ts";

const config = loadConfig("checkout", configSchema);
await migrateDatabase(
  config.DATABASE_URL,
  fileURLToPath(new URL("./db/migrations", import.meta.url)),
);
process.exit(0);
