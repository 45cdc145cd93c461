import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "packages/*/{src,test}/**/*.test.ts",
      "services/*/{src,test}/**/*.test.ts",
      "test/**/*.test.ts",
      "scripts/**/*.test.ts",
      "ops/**/*.test.ts",
      "k8s/**/*.test.ts",
    ],
    // the long randomised and burst variants run under `pnpm test:chaos`, the manifests under
    // `pnpm test:k8s`, the rolling restart under load under `pnpm test:rollout`
    exclude: ["**/node_modules/**", "test/chaos/**", "test/k8s/**", "test/rollout/**"],
    globalSetup: ["./test/global-setup.ts"],
    pool: "forks",
    // most files wait on service processes, Postgres and NATS rather than compute: three at once
    // on two cores took the suite from 666 s to 508 s here, every file still passing
    maxWorkers: 3,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ["default"],
  },
});
