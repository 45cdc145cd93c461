/**
 * What every pod must be: the restricted Pod Security Standard (and the read-only root file
 * system and numeric user the issue adds to it), probes and resources, and images pinned to a
 * version.
 */
import {
  type Container,
  containersOf,
  isLongRunning,
  type K8sObject,
  objectName,
  type PodSpec,
  podTemplateOf,
  type SecurityContext,
} from "./objects.ts";
import type { Check, Violation } from "./violations.ts";

/** The volume types the restricted Pod Security Standard allows. */
const RESTRICTED_VOLUME_TYPES = [
  "configMap",
  "csi",
  "downwardAPI",
  "emptyDir",
  "ephemeral",
  "persistentVolumeClaim",
  "projected",
  "secret",
];

/** A setting in effect for a container: its own security context, else the pod's. */
function effective<K extends keyof SecurityContext>(
  pod: PodSpec,
  container: Container,
  key: K,
): SecurityContext[K] {
  return container.securityContext?.[key] ?? pod.securityContext?.[key];
}

function podSecurityProblems(pod: PodSpec): string[] {
  const problems: string[] = [];
  for (const key of ["hostNetwork", "hostPID", "hostIPC"] as const) {
    if (pod[key]) problems.push(`${key}: must not be true`);
  }
  for (const [i, volume] of (pod.volumes ?? []).entries()) {
    const type = Object.keys(volume).find((key) => key !== "name");
    if (type && !RESTRICTED_VOLUME_TYPES.includes(type)) {
      problems.push(`volumes[${i}]: a ${type} volume is not allowed by the restricted standard`);
    }
  }
  if (pod.securityContext?.seccompProfile?.type === "Unconfined") {
    problems.push("securityContext.seccompProfile.type: must not be Unconfined");
  }
  for (const { container, path } of containersOf(pod)) {
    const sc = container.securityContext ?? {};
    const at = `${path} (${container.name})`;
    if (sc.privileged) problems.push(`${at}: privileged: must not be true`);
    if (sc.allowPrivilegeEscalation !== false) {
      problems.push(`${at}: securityContext.allowPrivilegeEscalation: must be false`);
    }
    if (sc.readOnlyRootFilesystem !== true) {
      problems.push(`${at}: securityContext.readOnlyRootFilesystem: must be true`);
    }
    if (!sc.capabilities?.drop?.includes("ALL")) {
      problems.push(`${at}: securityContext.capabilities.drop: must include ALL`);
    }
    const added = (sc.capabilities?.add ?? []).filter((cap) => cap !== "NET_BIND_SERVICE");
    if (added.length > 0) {
      problems.push(`${at}: securityContext.capabilities.add: ${added.join(", ")} not allowed`);
    }
    if (effective(pod, container, "runAsNonRoot") !== true) {
      problems.push(
        `${at}: runAsNonRoot: must be true (in the container's or the pod's securityContext)`,
      );
    }
    const user = effective(pod, container, "runAsUser");
    if (typeof user !== "number" || user === 0) {
      problems.push(
        `${at}: runAsUser: must be a numeric user other than 0, so the kubelet can verify runAsNonRoot`,
      );
    }
    const seccomp = effective(pod, container, "seccompProfile")?.type;
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") {
      problems.push(
        `${at}: seccompProfile.type: must be RuntimeDefault (or Localhost), found ${seccomp ?? "none"}`,
      );
    }
    for (const [j, port] of (container.ports ?? []).entries()) {
      if (port.hostPort) problems.push(`${at}: ports[${j}].hostPort: not allowed`);
    }
  }
  return problems;
}

function resourceProblems(container: Container): string[] {
  const missing = (["requests", "limits"] as const).flatMap((kind) =>
    ["cpu", "memory"]
      .filter((resource) => container.resources?.[kind]?.[resource] === undefined)
      .map((resource) => `${kind}.${resource}`),
  );
  return missing.length > 0 ? [`resources: ${missing.join(", ")} not set`] : [];
}

const PROBES = ["livenessProbe", "readinessProbe", "startupProbe"] as const;

/** `registry/repo:tag` or `…@sha256:…`: a tag other than `latest`, or a digest. */
export function imageProblem(image: string | undefined): string | null {
  if (!image) return "not set";
  if (image.includes("@sha256:")) return null;
  const lastSegment = image.slice(image.lastIndexOf("/") + 1);
  const tag = lastSegment.includes(":") ? lastSegment.slice(lastSegment.indexOf(":") + 1) : "";
  if (!tag) return `${image} has no tag: pin a version`;
  if (tag === "latest") return `${image} uses :latest: pin a version`;
  return null;
}

/** Pod security, probes, resources and images of every pod an object runs. */
export function checkPods(objects: K8sObject[]): Violation[] {
  const violations: Violation[] = [];
  for (const object of objects) {
    const found = podTemplateOf(object);
    if (!found) continue;
    const { template, path } = found;
    const pod = template.spec;
    const report = (check: Check, message: string) =>
      violations.push({ check, object: objectName(object), message: `${path}spec.${message}` });
    for (const problem of podSecurityProblems(pod)) report("pod-security", problem);
    for (const { container, path: at } of containersOf(pod)) {
      const where = `${at} (${container.name})`;
      for (const problem of resourceProblems(container))
        report("resources", `${where}: ${problem}`);
      const image = imageProblem(container.image);
      if (image) report("image", `${where}: image: ${image}`);
    }
    if (isLongRunning(object)) {
      for (const [i, container] of pod.containers.entries()) {
        const missing = PROBES.filter((probe) => !container[probe]);
        if (missing.length > 0) {
          report("probes", `containers[${i}] (${container.name}): ${missing.join(", ")} not set`);
        }
      }
    }
  }
  return violations;
}

/**
 * CloudNativePG makes the database pods itself (restricted-compliant); what the manifest decides
 * is their image and their resources, held to the same rules as a container's.
 */
export function checkDatabaseClusters(objects: K8sObject[]): Violation[] {
  const violations: Violation[] = [];
  for (const cluster of objects) {
    if (!cluster.apiVersion.startsWith("postgresql.cnpg.io/") || cluster.kind !== "Cluster")
      continue;
    const spec = (cluster.spec ?? {}) as { imageName?: string; resources?: Container["resources"] };
    const report = (check: Check, message: string) =>
      violations.push({ check, object: objectName(cluster), message: `spec.${message}` });
    for (const problem of resourceProblems({ name: "postgres", resources: spec.resources })) {
      report("resources", problem);
    }
    const image = spec.imageName === undefined ? null : imageProblem(spec.imageName);
    if (image) report("image", `imageName: ${image}`);
  }
  return violations;
}
