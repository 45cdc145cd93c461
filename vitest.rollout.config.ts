import { defineConfig } from "vitest/config";

/** `pnpm test:rollout`: a rolling restart of every service under load (it loads the machine). */
export default defineConfig({
  test: {
    include: ["test/rollout/**/*.rollout.test.ts"],
    globalSetup: ["./test/global-setup.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 240_000,
    reporters: ["default"],
  },
});
