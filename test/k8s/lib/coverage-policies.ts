/**
 * What must surround the workloads: a namespace that enforces the restricted Pod Security
 * Standard, a default-deny NetworkPolicy, and for every Deployment and StatefulSet a disruption
 * budget and a NetworkPolicy of its own.
 */
import {
  isEmptySelector,
  type K8sObject,
  objectName,
  podTemplateOf,
  selectorMatches,
} from "./objects.ts";
import type { Check, Violation } from "./violations.ts";

const ENFORCE = "pod-security.kubernetes.io/enforce";

interface NetworkPolicySpec {
  podSelector?: { matchLabels?: Record<string, string> };
  policyTypes?: string[];
  ingress?: unknown[];
  egress?: unknown[];
}

interface PodDisruptionBudgetSpec {
  selector?: { matchLabels?: Record<string, string> };
  minAvailable?: number | string;
  maxUnavailable?: number | string;
}

const ofKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const inNamespace = (objects: K8sObject[], namespace: string | undefined) =>
  objects.filter((o) => o.metadata.namespace === namespace);

/** Every namespace that runs pods is in the manifests and enforces the restricted standard. */
export function checkNamespaces(objects: K8sObject[]): Violation[] {
  const namespaces = new Map(ofKind(objects, "Namespace").map((ns) => [ns.metadata.name, ns]));
  const violations: Violation[] = [];
  for (const ns of namespaces.values()) {
    if (ns.metadata.labels?.[ENFORCE] !== "restricted") {
      violations.push({
        check: "namespace",
        object: objectName(ns),
        message: `metadata.labels: ${ENFORCE} must be "restricted" (found ${ns.metadata.labels?.[ENFORCE] ?? "none"})`,
      });
    }
  }
  for (const object of objects.filter((o) => podTemplateOf(o))) {
    const { namespace } = object.metadata;
    if (!namespace) {
      violations.push({
        check: "namespace",
        object: objectName(object),
        message: "metadata.namespace: not set, so it lands in whatever namespace kubectl points at",
      });
    } else if (!namespaces.has(namespace)) {
      violations.push({
        check: "namespace",
        object: objectName(object),
        message: `its namespace ${namespace} is not in the manifests, so nothing says it enforces the restricted standard`,
      });
    }
  }
  return violations;
}

/** An empty pod selector, both policy types and no rule: nothing in, nothing out, unless allowed. */
const isDefaultDeny = (policy: K8sObject) => {
  const spec = (policy.spec ?? {}) as NetworkPolicySpec;
  return (
    isEmptySelector(spec.podSelector) &&
    ["Ingress", "Egress"].every((type) => spec.policyTypes?.includes(type)) &&
    (spec.ingress ?? []).length === 0 &&
    (spec.egress ?? []).length === 0
  );
};

/** Each namespace that runs pods has a default-deny NetworkPolicy (ingress and egress). */
export function checkDefaultDeny(objects: K8sObject[]): Violation[] {
  const policies = ofKind(objects, "NetworkPolicy");
  const namespaces = new Set(
    objects.filter((o) => podTemplateOf(o)).map((o) => o.metadata.namespace),
  );
  return [...namespaces]
    .filter((namespace) => !inNamespace(policies, namespace).some(isDefaultDeny))
    .map((namespace) => ({
      check: "network-policy",
      object: `Namespace ${namespace ?? "(none)"}`,
      message:
        "no default-deny NetworkPolicy (podSelector {}, policyTypes Ingress and Egress, no rules)",
    }));
}

/** A budget that lets no pod go blocks every node drain. */
function blocksEveryDrain(spec: PodDisruptionBudgetSpec, replicas: number | undefined): boolean {
  if (spec.maxUnavailable === 0 || spec.maxUnavailable === "0%") return true;
  if (spec.minAvailable === "100%") return true;
  return (
    typeof spec.minAvailable === "number" && replicas !== undefined && spec.minAvailable >= replicas
  );
}

/**
 * Every Deployment and StatefulSet: a PodDisruptionBudget that selects its pods and lets a drain
 * proceed, and a NetworkPolicy of its own (the default deny selects every pod, so it does not
 * count) that selects them.
 */
export function checkWorkloadCoverage(objects: K8sObject[]): Violation[] {
  const violations: Violation[] = [];
  const budgets = ofKind(objects, "PodDisruptionBudget");
  const policies = ofKind(objects, "NetworkPolicy");
  for (const workload of objects.filter((o) => ["Deployment", "StatefulSet"].includes(o.kind))) {
    const labels = podTemplateOf(workload)?.template.metadata?.labels ?? {};
    const { namespace } = workload.metadata;
    const replicas = (workload.spec as { replicas?: number } | undefined)?.replicas;
    const report = (check: Check, message: string) =>
      violations.push({ check, object: objectName(workload), message });

    const covering = inNamespace(budgets, namespace).filter((pdb) =>
      selectorMatches((pdb.spec as PodDisruptionBudgetSpec | undefined)?.selector, labels),
    );
    if (covering.length === 0) {
      report("pdb", "no PodDisruptionBudget selects its pods");
    }
    for (const pdb of covering) {
      if (blocksEveryDrain(pdb.spec as PodDisruptionBudgetSpec, replicas)) {
        report("pdb", `${objectName(pdb)} lets no pod go, which blocks every node drain`);
      }
    }
    if (covering.length > 1) {
      report(
        "pdb",
        `${covering.map(objectName).join(" and ")} both select its pods; the eviction API refuses pods with two budgets`,
      );
    }

    const ownPolicy = inNamespace(policies, namespace).some((policy) => {
      const selector = (policy.spec as NetworkPolicySpec | undefined)?.podSelector;
      return !isEmptySelector(selector) && selectorMatches(selector, labels);
    });
    if (!ownPolicy) {
      report("network-policy", "no NetworkPolicy selects its pods besides the default deny");
    }
  }
  return violations;
}
