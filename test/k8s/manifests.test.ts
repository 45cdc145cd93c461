/**
 * Every overlay in k8s/overlays, rendered as `kubectl kustomize` renders it and checked offline:
 * each object against its schema (CRDs included, no undefined field), then the policies.
 */
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { checkManifests } from "./lib/check-manifests.ts";
import type { K8sObject } from "./lib/objects.ts";
import { renderKustomization } from "./lib/render.ts";
import { SERVICE_SCHEMAS } from "./lib/service-env.ts";
import { type Check, formatViolations, type Violation } from "./lib/violations.ts";

const OVERLAYS_DIR = fileURLToPath(new URL("../../k8s/overlays/", import.meta.url));
const overlays = readdirSync(OVERLAYS_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

it("finds the dev and prod overlays", () => {
  expect(overlays).toEqual(expect.arrayContaining(["dev", "prod"]));
});

describe.each(overlays)("k8s/overlays/%s", (overlay) => {
  const production = overlay === "prod";
  let objects: K8sObject[] = [];
  let violations: Violation[] = [];
  const tested = new Set<Check>();

  /** Asserts no violation of these checks, listing each one when there are. */
  const expectNone = (...checks: Check[]) => {
    for (const check of checks) tested.add(check);
    const found = violations.filter((v) => checks.includes(v.check));
    expect(found, `\n${formatViolations(found)}\n`).toEqual([]);
  };

  beforeAll(async () => {
    objects = await renderKustomization(`${OVERLAYS_DIR}${overlay}`);
    violations = await checkManifests(objects, { production });
  });

  it("renders every service as a Deployment with its migration Job", () => {
    for (const service of Object.keys(SERVICE_SCHEMAS)) {
      const kinds = objects
        .filter((o) => o.metadata.labels?.["app.kubernetes.io/name"] === service)
        .map((o) => o.kind);
      expect(kinds, service).toEqual(expect.arrayContaining(["Deployment", "Job"]));
    }
  });

  it("validates every object against its schema, CRDs included, with no field the schema lacks", () => {
    expectNone("schema", "unknown-field");
  });

  it("runs every pod under the restricted Pod Security Standard, in a namespace that enforces it", () => {
    expectNone("pod-security", "namespace");
  });

  it("gives every long-running container its three probes, and every container requests and limits", () => {
    expectNone("probes", "resources");
  });

  it("pins every image to a version (no :latest, no untagged image)", () => {
    expectNone("image");
  });

  it("denies all traffic by default, and covers every Deployment and StatefulSet with a PDB and a NetworkPolicy", () => {
    expectNone("network-policy", "pdb");
  });

  it("gives each service only settings its config schema knows, with values it accepts", () => {
    expectNone("env");
  });

  it(`provides every setting the services require in production${production ? ", and runs them with NODE_ENV=production" : ""}`, () => {
    expectNone("production-settings");
  });

  it("has no violation that the tests above leave unreported", () => {
    expectNone(...new Set(violations.map((v) => v.check).filter((check) => !tested.has(check))));
  });
});
