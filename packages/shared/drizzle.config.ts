import { defineConfig } from "drizzle-kit";

/** The messaging tables alone, migrated into the databases of this package's own tests. */
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/messaging/tables.ts",
  out: "./test/migrations",
});
