/**
 * What a container gets from rendered Kubernetes manifests: its command, working directory,
 * user and environment, resolved as the kubelet resolves them (envFrom first, then env in order,
 * `$(VAR)` references expanded), with ConfigMaps read from the same render and every Secret
 * value handed over by the caller, since no secret value is committed.
 */
import { execFileSync } from "node:child_process";
import { parseAllDocuments } from "yaml";

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  spec?: Record<string, unknown>;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    fieldRef?: { fieldPath: string };
    resourceFieldRef?: unknown;
  };
}

interface EnvFromSource {
  prefix?: string;
  configMapRef?: { name: string; optional?: boolean };
  secretRef?: { name: string; optional?: boolean };
}

interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  securityContext?: SecurityContext;
}

interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: SecurityContext;
}

/** One container of a workload, with the pod it runs in. */
export interface WorkloadContainer {
  /** `Deployment/checkout`, `Job/checkout-migrate` */
  workload: string;
  kind: string;
  container: Container;
  pod: PodSpec;
}

/** Renders a kustomization as `kubectl kustomize` does. */
export function renderKustomization(dir: string): KubeObject[] {
  const out = execFileSync("kubectl", ["kustomize", dir], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  return parseAllDocuments(out)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`kubectl kustomize ${dir}: ${doc.errors[0]}`);
      return doc.toJSON() as KubeObject | null;
    })
    .filter((object): object is KubeObject => object !== null);
}

function podSpecOf(object: KubeObject): PodSpec | undefined {
  const spec = object.spec as
    | {
        template?: { spec?: PodSpec };
        jobTemplate?: { spec?: { template?: { spec?: PodSpec } } };
      }
    | undefined;
  return object.kind === "CronJob" ? spec?.jobTemplate?.spec?.template?.spec : spec?.template?.spec;
}

/** The image's repository without registry or tag: `ghcr.io/acme/codflow-orders:1.2` → `codflow-orders`. */
export function imageName(image: string): string {
  const withoutDigest = image.split("@")[0] as string;
  const lastSegment = withoutDigest.split("/").pop() as string;
  return lastSegment.split(":")[0] as string;
}

/** Every container (init containers included) that runs image `name`, in render order. */
export function containersOfImage(objects: KubeObject[], name: string): WorkloadContainer[] {
  const found: WorkloadContainer[] = [];
  for (const object of objects) {
    const pod = podSpecOf(object);
    if (!pod) continue;
    for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
      if (imageName(container.image) === name) {
        found.push({
          workload: `${object.kind}/${object.metadata.name}`,
          kind: object.kind,
          container,
          pod,
        });
      }
    }
  }
  return found;
}

/** Where Secret values come from: the caller's test values, by the variable they feed. */
export type SecretValue = (ref: {
  envName: string;
  secret: string;
  key: string;
}) => string | undefined;

export interface ResolveOptions {
  secretValue: SecretValue;
  /** `metadata.name`, `metadata.namespace`, `status.podIP`… as the kubelet would fill them. */
  fieldValue: (fieldPath: string) => string | undefined;
}

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** Kubernetes' `$(VAR)` expansion: defined variables are replaced, `$$` escapes, others stay. */
export function expandReferences(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([^)]*)\)/g, (match, name: string | undefined) => {
    if (match === "$$") return "$";
    return name !== undefined && name in env ? (env[name] as string) : match;
  });
}

/**
 * The environment the kubelet gives `container`: `envFrom` sources in order, then `env` entries
 * in order (a later one wins), a ConfigMap from `objects`, a Secret from `secretValue`. A
 * missing required ConfigMap, key or Secret value fails with the container and variable named.
 */
export function resolveContainerEnv(
  objects: KubeObject[],
  { workload, container }: Pick<WorkloadContainer, "workload" | "container">,
  { secretValue, fieldValue }: ResolveOptions,
): Record<string, string> {
  const where = `${workload} container ${container.name}`;
  const configMap = (name: string, optional = false) => {
    const found = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === name);
    if (!found && !optional) throw new Error(`${where}: ConfigMap ${name} is not in the render`);
    return found?.data;
  };
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    if (source.secretRef) {
      throw new Error(
        `${where}: envFrom secretRef ${source.secretRef.name} — name each secret key in env instead, so its test value can be given`,
      );
    }
    if (!source.configMapRef) throw new Error(`${where}: an envFrom entry without configMapRef`);
    const data = configMap(source.configMapRef.name, source.configMapRef.optional) ?? {};
    for (const [key, value] of Object.entries(data)) {
      const name = `${source.prefix ?? ""}${key}`;
      if (ENV_NAME.test(name)) env[name] = value;
    }
  }
  for (const entry of container.env ?? []) {
    const from = entry.valueFrom;
    let value: string | undefined;
    if (!from) {
      value = expandReferences(entry.value ?? "", env);
    } else if (from.configMapKeyRef) {
      const { name, key, optional } = from.configMapKeyRef;
      value = configMap(name, optional)?.[key];
      if (value === undefined && !optional) {
        throw new Error(
          `${where}: ${entry.name} wants key ${key} of ConfigMap ${name}, which lacks it`,
        );
      }
    } else if (from.secretKeyRef) {
      const { name, key, optional } = from.secretKeyRef;
      value = secretValue({ envName: entry.name, secret: name, key });
      if (value === undefined && !optional) {
        throw new Error(`${where}: no test value for ${entry.name} (Secret ${name}, key ${key})`);
      }
    } else if (from.fieldRef) {
      value = fieldValue(from.fieldRef.fieldPath);
      if (value === undefined) {
        throw new Error(
          `${where}: ${entry.name} wants field ${from.fieldRef.fieldPath}, which the check cannot give`,
        );
      }
    } else {
      throw new Error(`${where}: ${entry.name} has a valueFrom the check cannot resolve`);
    }
    if (value !== undefined) env[entry.name] = value;
  }
  return env;
}

/** The argv the container runs: `command` replaces the image's ENTRYPOINT, `args` its CMD. */
export function containerArgv(
  container: Container,
  image: { entrypoint: string[]; cmd: string[] },
  env: Record<string, string>,
): string[] {
  const argv = container.command
    ? [...container.command, ...(container.args ?? [])]
    : [...image.entrypoint, ...(container.args ?? image.cmd)];
  return argv.map((arg) => expandReferences(arg, env));
}

/** The user the container runs as: its securityContext, else the pod's, else the image's USER. */
export function containerUser(
  { container, pod }: Pick<WorkloadContainer, "container" | "pod">,
  image: { uid: number; gid: number },
): { uid: number; gid: number } {
  return {
    uid: container.securityContext?.runAsUser ?? pod.securityContext?.runAsUser ?? image.uid,
    gid: container.securityContext?.runAsGroup ?? pod.securityContext?.runAsGroup ?? image.gid,
  };
}

function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined; // not a URL: a value like any other
  }
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;

export interface HostReplacement {
  name: string;
  from: string;
  to: string;
}

/**
 * Points every URL in `env` (a value, or a comma-separated list of them) whose host exists only
 * in the cluster at its local stand-in: `standIns` maps a Service name (the host's first DNS
 * label: `nats` for `nats.codflow.svc.cluster.local`) to a loopback `host:port`. A URL at any
 * other non-loopback host is refused, so the check never reaches outside this machine.
 */
export function replaceClusterHosts(
  env: Record<string, string>,
  standIns: Record<string, string>,
): { env: Record<string, string>; replaced: HostReplacement[] } {
  const out = { ...env };
  const replaced: HostReplacement[] = [];
  for (const [name, value] of Object.entries(env)) {
    const parts = value.split(",");
    const urls = parts.map((part) => parseUrl(part.trim()));
    if (!urls.every((url) => url?.host)) continue;
    const rewritten = urls.map((url) => {
      const target = url as URL;
      if (LOOPBACK.test(target.hostname)) return target.toString();
      const standIn = standIns[target.hostname.split(".")[0] as string];
      if (!standIn) {
        throw new Error(`${name} points at ${target.host}, which has no local stand-in`);
      }
      const from = target.host;
      target.host = standIn;
      replaced.push({ name, from, to: standIn });
      return target.toString();
    });
    // URL.toString() adds a trailing slash to a bare origin; keep the value as written otherwise
    out[name] = rewritten
      .map((url, i) => (parts[i]?.trim().endsWith("/") ? url : url.replace(/\/$/, "")))
      .join(",");
  }
  return { env: out, replaced };
}
