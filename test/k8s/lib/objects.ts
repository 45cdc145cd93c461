/** The parts of a rendered Kubernetes object the checks read; everything else stays `unknown`. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export interface Container {
  name: string;
  image?: string;
  securityContext?: SecurityContext;
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
  livenessProbe?: unknown;
  readinessProbe?: unknown;
  startupProbe?: unknown;
  ports?: { containerPort?: number; hostPort?: number }[];
}

export interface SecurityContext {
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  runAsNonRoot?: boolean;
  runAsUser?: number;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type?: string };
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}

export interface EnvFromSource {
  prefix?: string;
  configMapRef?: { name: string; optional?: boolean };
  secretRef?: { name: string; optional?: boolean };
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  securityContext?: SecurityContext;
  volumes?: Record<string, unknown>[];
}

export interface PodTemplate {
  metadata?: { labels?: Record<string, string> };
  spec: PodSpec;
}

/** `Deployment/checkout` (namespaced objects: `Deployment codflow/checkout`). */
export function objectName(object: K8sObject): string {
  const { namespace, name } = object.metadata;
  return `${object.kind} ${namespace ? `${namespace}/` : ""}${name}`;
}

/** Kinds whose pods keep running: they get probes and disruption budgets. */
export const LONG_RUNNING_KINDS = ["Deployment", "StatefulSet", "DaemonSet"] as const;

/** Where each pod-making kind keeps its pod template. */
const TEMPLATE_PATHS: Record<string, string[]> = {
  Deployment: ["spec", "template"],
  StatefulSet: ["spec", "template"],
  DaemonSet: ["spec", "template"],
  ReplicaSet: ["spec", "template"],
  Job: ["spec", "template"],
  CronJob: ["spec", "jobTemplate", "spec", "template"],
};

/** The pod template an object runs, with its path for messages; `Pod` is its own template. */
export function podTemplateOf(object: K8sObject): { template: PodTemplate; path: string } | null {
  if (object.kind === "Pod") {
    return { template: object as unknown as PodTemplate, path: "" };
  }
  const path = TEMPLATE_PATHS[object.kind];
  if (!path) return null;
  let value: unknown = object;
  for (const key of path) value = (value as Record<string, unknown> | undefined)?.[key];
  if (!value) return null;
  return { template: value as PodTemplate, path: `${path.join(".")}.` };
}

export const isLongRunning = (object: K8sObject) =>
  (LONG_RUNNING_KINDS as readonly string[]).includes(object.kind);

/** Every container of a pod, with its path in the pod spec (`containers[0]`). */
export function containersOf(spec: PodSpec): { container: Container; path: string }[] {
  return [
    ...(spec.initContainers ?? []).map((container, i) => ({
      container,
      path: `initContainers[${i}]`,
    })),
    ...spec.containers.map((container, i) => ({ container, path: `containers[${i}]` })),
  ];
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** A Kubernetes label selector against a label set (an empty selector selects everything). */
export function selectorMatches(
  selector: LabelSelector | undefined,
  labels: Record<string, string> = {},
): boolean {
  if (!selector) return false;
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(
    ([key, value]) => labels[key] === value,
  );
  const byExpressions = (selector.matchExpressions ?? []).every(({ key, operator, values }) => {
    switch (operator) {
      case "In":
        return key in labels && (values ?? []).includes(labels[key] as string);
      case "NotIn":
        return !(key in labels) || !(values ?? []).includes(labels[key] as string);
      case "Exists":
        return key in labels;
      case "DoesNotExist":
        return !(key in labels);
      default:
        throw new Error(`unknown label selector operator ${operator}`);
    }
  });
  return byLabels && byExpressions;
}

export const isEmptySelector = (selector: LabelSelector | undefined) =>
  !!selector &&
  Object.keys(selector.matchLabels ?? {}).length === 0 &&
  (selector.matchExpressions ?? []).length === 0;
