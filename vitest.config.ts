import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "packages/*/{src,test}/**/*.test.ts",
      "services/*/{src,test}/**/*.test.ts",
      "test/**/*.test.ts",
      "scripts/**/*.test.ts",
      "ops/**/*.test.ts",
    ],
    globalSetup: ["./test/global-setup.ts"],
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ["default"],
  },
});
