/**
 * The checks of manifests.test.ts fail on broken manifests: fixtures/valid passes them all, and
 * each case below breaks it one way and expects exactly that mistake, clearly named.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { checkManifests } from "./lib/check-manifests.ts";
import type { Container, K8sObject, PodTemplate } from "./lib/objects.ts";
import { parseManifests, renderKustomization } from "./lib/render.ts";
import { formatViolations } from "./lib/violations.ts";

const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));

const validObjects = () =>
  parseManifests(readFileSync(`${FIXTURES}valid/manifests.yaml`, "utf8"), "valid/manifests.yaml");

const find = (objects: K8sObject[], kind: string, name: string) => {
  const object = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!object) throw new Error(`fixture has no ${kind} ${name}`);
  return object as K8sObject & { spec: Record<string, unknown> & { template: PodTemplate } };
};
const deployment = (objects: K8sObject[]) => find(objects, "Deployment", "orders");
const container = (objects: K8sObject[]): Container & Record<string, unknown> =>
  deployment(objects).spec.template.spec.containers[0] as Container & Record<string, unknown>;

/** The fixture with one change, checked as the prod overlay is; one line per violation. */
async function violationsAfter(change: (objects: K8sObject[]) => void): Promise<string[]> {
  const objects = validObjects();
  change(objects);
  return formatViolations(await checkManifests(objects, { production: true }))
    .split("\n")
    .filter(Boolean);
}

const DEPLOYMENT = "Deployment shop/orders";
const CONTAINER = "spec.template.spec.containers[0] (orders)";

describe("a broken manifest fails the checks", () => {
  it("passes them all unbroken, so each failure below is the break's alone", async () => {
    expect(await violationsAfter(() => {})).toEqual([]);
  });

  it.each([
    {
      mistake: "a typo'd field (replica)",
      change: (o: K8sObject[]) => {
        deployment(o).spec.replica = 3;
      },
      expected: `[unknown-field] ${DEPLOYMENT}: spec.replica: not a field of Deployment (apps/v1) — a typo, or a field of another version?`,
    },
    {
      mistake: "a typo'd container field (imagePullPolcy)",
      change: (o: K8sObject[]) => {
        container(o).imagePullPolcy = "Always";
      },
      expected: `[unknown-field] ${DEPLOYMENT}: spec.template.spec.containers[0].imagePullPolcy: not a field of Deployment (apps/v1) — a typo, or a field of another version?`,
    },
    {
      mistake: "a typo'd field in a CRD (CloudNativePG, vendored schema)",
      change: (o: K8sObject[]) => {
        find(o, "Cluster", "pg-orders").spec.instanses = 3;
      },
      expected:
        "[unknown-field] Cluster shop/pg-orders: spec.instanses: not a field of Cluster (postgresql.cnpg.io/v1) — a typo, or a field of another version?",
    },
    {
      mistake: "a typo'd field in a CRD (KEDA, kubernetes-models)",
      change: (o: K8sObject[]) => {
        find(o, "ScaledObject", "orders").spec.minReplicas = 2;
      },
      expected:
        "[unknown-field] ScaledObject shop/orders: spec.minReplicas: not a field of ScaledObject (keda.sh/v1alpha1) — a typo, or a field of another version?",
    },
    {
      mistake: "a value of the wrong type",
      change: (o: K8sObject[]) => {
        deployment(o).spec.replicas = "two";
      },
      expected: `[schema] ${DEPLOYMENT}: spec.replicas: must be integer`,
    },
    {
      mistake: "a kind no schema knows",
      change: (o: K8sObject[]) => {
        o.push({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } });
      },
      expected:
        "[schema] Widget w: no schema for example.com/v1: add its kubernetes-models package, or vendor its CRD in test/k8s/crds",
    },
    {
      mistake: "a missing readiness probe",
      change: (o: K8sObject[]) => {
        delete container(o).readinessProbe;
      },
      expected: `[probes] ${DEPLOYMENT}: spec.template.spec.containers[0] (orders): readinessProbe not set`,
    },
    {
      mistake: "a privileged container",
      change: (o: K8sObject[]) => {
        (container(o).securityContext as Record<string, unknown>).privileged = true;
      },
      expected: `[pod-security] ${DEPLOYMENT}: ${CONTAINER}: privileged: must not be true`,
    },
    {
      mistake: "a container that may escalate privileges",
      change: (o: K8sObject[]) => {
        delete container(o).securityContext?.allowPrivilegeEscalation;
      },
      expected: `[pod-security] ${DEPLOYMENT}: ${CONTAINER}: securityContext.allowPrivilegeEscalation: must be false`,
    },
    {
      mistake: "a pod that may run as root",
      change: (o: K8sObject[]) => {
        delete deployment(o).spec.template.spec.securityContext?.runAsNonRoot;
      },
      expected: `[pod-security] ${DEPLOYMENT}: ${CONTAINER}: runAsNonRoot: must be true (in the container's or the pod's securityContext)`,
    },
    {
      mistake: "a hostPath volume",
      change: (o: K8sObject[]) => {
        deployment(o).spec.template.spec.volumes = [{ name: "tmp", hostPath: { path: "/tmp" } }];
      },
      expected: `[pod-security] ${DEPLOYMENT}: spec.template.spec.volumes[0]: a hostPath volume is not allowed by the restricted standard`,
    },
    {
      mistake: "a namespace that does not enforce the restricted standard",
      change: (o: K8sObject[]) => {
        find(o, "Namespace", "shop").metadata.labels = {};
      },
      expected:
        '[namespace] Namespace shop: metadata.labels: pod-security.kubernetes.io/enforce must be "restricted" (found none)',
    },
    {
      mistake: "a container without limits",
      change: (o: K8sObject[]) => {
        delete container(o).resources?.limits;
      },
      expected: `[resources] ${DEPLOYMENT}: ${CONTAINER}: resources: limits.cpu, limits.memory not set`,
    },
    {
      mistake: "a :latest image",
      change: (o: K8sObject[]) => {
        container(o).image = "registry.example/codflow-orders:latest";
      },
      expected: `[image] ${DEPLOYMENT}: ${CONTAINER}: image: registry.example/codflow-orders:latest uses :latest: pin a version`,
    },
    {
      mistake: "an untagged image",
      change: (o: K8sObject[]) => {
        container(o).image = "registry.example:5000/codflow-orders";
      },
      expected: `[image] ${DEPLOYMENT}: ${CONTAINER}: image: registry.example:5000/codflow-orders has no tag: pin a version`,
    },
    {
      mistake: "a Deployment without a PodDisruptionBudget",
      change: (o: K8sObject[]) => {
        o.splice(o.indexOf(find(o, "PodDisruptionBudget", "orders")), 1);
      },
      expected: `[pdb] ${DEPLOYMENT}: no PodDisruptionBudget selects its pods`,
    },
    {
      mistake: "a PodDisruptionBudget that blocks every drain",
      change: (o: K8sObject[]) => {
        find(o, "PodDisruptionBudget", "orders").spec.maxUnavailable = 0;
      },
      expected: `[pdb] ${DEPLOYMENT}: PodDisruptionBudget shop/orders lets no pod go, which blocks every node drain`,
    },
    {
      mistake: "a Deployment no NetworkPolicy of its own selects",
      change: (o: K8sObject[]) => {
        o.splice(o.indexOf(find(o, "NetworkPolicy", "orders")), 1);
      },
      expected: `[network-policy] ${DEPLOYMENT}: no NetworkPolicy selects its pods besides the default deny`,
    },
    {
      mistake: "no default-deny NetworkPolicy",
      change: (o: K8sObject[]) => {
        o.splice(o.indexOf(find(o, "NetworkPolicy", "default-deny")), 1);
      },
      expected:
        "[network-policy] Namespace shop: no default-deny NetworkPolicy (podSelector {}, policyTypes Ingress and Egress, no rules)",
    },
    {
      mistake: "an environment variable the service does not know",
      change: (o: K8sObject[]) => {
        container(o).env?.push({ name: "MAX_DELIVERY_ATTEMPT", value: "3" });
      },
      expected: `[env] ${DEPLOYMENT}: ${CONTAINER}: MAX_DELIVERY_ATTEMPT (from env) is not a setting of orders (services/orders/src/config.ts) nor one the runtime reads: a typo, or a setting the code no longer has?`,
    },
    {
      mistake: "a value the service refuses",
      change: (o: K8sObject[]) => {
        container(o).env?.push({ name: "ORDERS_MAX_DELIVERY_ATTEMPTS", value: "many" });
      },
      expected: `[env] ${DEPLOYMENT}: ${CONTAINER}: invalid configuration for orders: MAX_DELIVERY_ATTEMPTS: Invalid input: expected number, received NaN`,
    },
    {
      mistake: "a service listening on loopback only",
      change: (o: K8sObject[]) => {
        delete (find(o, "ConfigMap", "orders-config").data as Record<string, string>).HOST;
      },
      expected: `[env] ${DEPLOYMENT}: ${CONTAINER}: HOST is 127.0.0.1: the service would listen on loopback only, out of reach of its probes and Service (set HOST=0.0.0.0)`,
    },
    {
      mistake: "a PORT the container does not declare",
      change: (o: K8sObject[]) => {
        (find(o, "ConfigMap", "orders-config").data as Record<string, string>).PORT = "9000";
      },
      expected: `[env] ${DEPLOYMENT}: ${CONTAINER}: PORT is 9000 but the container declares ports 8083: probes and the Service would miss it`,
    },
    {
      mistake: "a setting required in production left out",
      change: (o: K8sObject[]) => {
        const migrate = find(o, "Job", "orders-migrate").spec.template.spec.containers[0];
        (migrate as Container).env = (migrate as Container).env?.filter(
          (v) => v.name !== "AUTH_JWT_SECRET",
        );
      },
      expected:
        "[production-settings] Job shop/orders-migrate: spec.template.spec.containers[0] (migrate): AUTH_JWT_SECRET or AUTH_JWKS_URL: required in production by services/orders/src/config.ts, not given: the service would refuse to start",
    },
    {
      mistake: "a prod service not in production mode",
      change: (o: K8sObject[]) => {
        (find(o, "ConfigMap", "orders-config").data as Record<string, string>).NODE_ENV =
          "development";
      },
      expected: [
        `[production-settings] ${DEPLOYMENT}: ${CONTAINER}: NODE_ENV is development: the prod overlay must run NODE_ENV=production, or the service skips its production checks`,
        "[production-settings] Job shop/orders-migrate: spec.template.spec.containers[0] (migrate): NODE_ENV is development: the prod overlay must run NODE_ENV=production, or the service skips its production checks",
      ],
    },
    {
      mistake: "a service pod without its telemetry settings",
      change: (o: K8sObject[]) => {
        delete (find(o, "ConfigMap", "orders-config").data as Record<string, string>)
          .OTEL_EXPORTER_OTLP_ENDPOINT;
      },
      expected: `[production-settings] ${DEPLOYMENT}: ${CONTAINER}: OTEL_EXPORTER_OTLP_ENDPOINT: every service pod gets these (traces to the OpenTelemetry Collector)`,
    },
  ])("reports $mistake", async ({ change, expected }) => {
    expect(await violationsAfter(change)).toEqual([expected].flat());
  });

  it("reports what kubectl kustomize renders, through the same checks", async () => {
    const objects = await renderKustomization(`${FIXTURES}broken-overlay`);
    const lines = formatViolations(await checkManifests(objects, { production: true })).split("\n");
    expect(lines).toEqual([
      `[unknown-field] ${DEPLOYMENT}: spec.replica: not a field of Deployment (apps/v1) — a typo, or a field of another version?`,
      `[probes] ${DEPLOYMENT}: spec.template.spec.containers[0] (orders): readinessProbe not set`,
    ]);
  });

  it("fails with kubectl's own message when an overlay does not render", async () => {
    await expect(renderKustomization(`${FIXTURES}unrenderable`)).rejects.toThrow(
      /kubectl kustomize .*unrenderable failed:[\s\S]*deployment\.yaml: no such file or directory/,
    );
  });
});
