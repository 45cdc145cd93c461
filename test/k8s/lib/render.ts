import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import type { K8sObject } from "./objects.ts";

const run = promisify(execFile);

/** Kustomize 5 is what the manifests are written for (`labels`, components, `patches`). */
const MIN_KUSTOMIZE_MAJOR = 5;

const INSTALL_HINT =
  "install kubectl 1.27 or newer (it embeds kustomize 5): .ci/run installs it when missing";

/**
 * Checks that `kubectl` is on PATH and embeds kustomize 5 or newer, and says what to do when not:
 * the validation must fail loudly on a machine without it, never skip.
 */
export async function requireKubectl(): Promise<{ kubectl: string; kustomize: string }> {
  let stdout: string;
  try {
    ({ stdout } = await run("kubectl", ["version", "--client", "-o", "json"]));
  } catch (err) {
    throw new Error(`kubectl is not usable here (${(err as Error).message}): ${INSTALL_HINT}`);
  }
  const version = JSON.parse(stdout) as {
    clientVersion?: { gitVersion?: string };
    kustomizeVersion?: string;
  };
  const kubectl = version.clientVersion?.gitVersion ?? "unknown";
  const kustomize = version.kustomizeVersion ?? "none";
  const major = Number(/^v(\d+)\./.exec(kustomize)?.[1] ?? 0);
  if (major < MIN_KUSTOMIZE_MAJOR) {
    throw new Error(
      `kubectl ${kubectl} embeds kustomize ${kustomize}, older than v${MIN_KUSTOMIZE_MAJOR}: ${INSTALL_HINT}`,
    );
  }
  return { kubectl, kustomize };
}

/** Parses a multi-document YAML stream; a document that is not valid YAML throws, naming it. */
export function parseManifests(yaml: string, source: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const [index, document] of parseAllDocuments(yaml).entries()) {
    if (document.errors.length > 0) {
      const reasons = document.errors.map((e) => e.message).join("; ");
      throw new Error(`${source}: document ${index + 1} is not valid YAML: ${reasons}`);
    }
    const value = document.toJS() as unknown;
    if (value === null || value === undefined) continue;
    if (typeof value !== "object" || Array.isArray(value)) {
      throw new Error(`${source}: document ${index + 1} is not a Kubernetes object`);
    }
    objects.push(value as K8sObject);
  }
  return objects;
}

/** `kubectl kustomize <dir>`: the objects an overlay renders, or its errors as thrown text. */
export async function renderKustomization(dir: string): Promise<K8sObject[]> {
  await requireKubectl();
  try {
    const { stdout } = await run("kubectl", ["kustomize", dir], { maxBuffer: 64 * 1024 * 1024 });
    return parseManifests(stdout, `kubectl kustomize ${dir}`);
  } catch (err) {
    const { stderr } = err as { stderr?: string };
    if (stderr === undefined) throw err;
    throw new Error(`kubectl kustomize ${dir} failed:\n${stderr.trim()}`);
  }
}
