import { defineConfig } from "vitest/config";

/** `pnpm test:chaos`: the long fault-injection runs, one file at a time (each loads the machine). */
export default defineConfig({
  test: {
    include: ["test/chaos/**/*.chaos.test.ts"],
    globalSetup: ["./test/global-setup.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 900_000,
    hookTimeout: 120_000,
    reporters: ["default"],
  },
});
