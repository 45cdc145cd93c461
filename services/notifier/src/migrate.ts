import { fileURLToPath } from "node:url";
import { ConfigError, loadConfig, migrateDatabase } from "@codflow/shared";
import { configSchema } from "./config.ts";

try {
  const config = loadConfig("notifier", configSchema);
  await migrateDatabase(
    config.DATABASE_URL,
    fileURLToPath(new URL("./db/migrations", import.meta.url)),
  );
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
}
process.exit(0);
