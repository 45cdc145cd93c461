import { defineConfig } from "vitest/config";

/**
 * `pnpm test:k8s`: the Kubernetes manifests rendered with `kubectl kustomize` and checked offline
 * (schemas, CRDs included, and policies). Needs kubectl, not PostgreSQL or NATS.
 */
export default defineConfig({
  test: {
    include: ["test/k8s/**/*.test.ts"],
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ["default"],
  },
});
