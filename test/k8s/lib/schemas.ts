/**
 * Validates every rendered object against the schema of its apiVersion and kind, offline:
 * Kubernetes' own kinds and the Gateway API, prometheus-operator and KEDA CRDs through the
 * kubernetes-models packages, other operators' CRDs (CloudNativePG) through the CRD YAML
 * vendored in ../crds, compiled with ajv. Both reject a field the schema does not define
 * (strict-fields.ts).
 */
import { readdirSync, readFileSync } from "node:fs";
import { validate as validateObjectMeta } from "@kubernetes-models/apimachinery/_schemas/IoK8sApimachineryPkgApisMetaV1ObjectMeta";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { parse } from "yaml";
import { type K8sObject, objectName } from "./objects.ts";
import { traceFieldReads } from "./strict-fields.ts";
import type { Violation } from "./violations.ts";

/** CRD groups with a kubernetes-models package; Kubernetes' own groups are in `kubernetes-models`. */
const MODEL_PACKAGES: Record<string, string> = {
  "gateway.networking.k8s.io": "@kubernetes-models/gateway-api",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
  "keda.sh": "@kubernetes-models/keda",
};

const isKubernetesGroup = (group: string) => !group.includes(".") || group.endsWith(".k8s.io");

const CRD_DIR = new URL("../crds/", import.meta.url);

interface AjvLikeError {
  instancePath: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Runs a validator on `data`, returning its errors (none when valid). */
type Validator = (data: unknown) => AjvLikeError[];

interface ModelClass {
  prototype: { validate(this: unknown): void };
}

/** A kubernetes-models class's validate(), which throws a ValidationError carrying ajv's errors. */
const modelValidator =
  (model: ModelClass): Validator =>
  (data) => {
    try {
      model.prototype.validate.call(data);
      return [];
    } catch (err) {
      const { errors } = err as { errors?: AjvLikeError[] };
      if (!errors) throw err;
      return errors;
    }
  };

const ajvValidator =
  (fn: ValidateFunction): Validator =>
  (data) =>
    fn(data) ? [] : [...(fn.errors ?? [])];

/** The metadata of a CRD-backed object is a bare `type: object` in the CRD: check it as Kubernetes does. */
const objectMetaValidator: Validator = (data) => {
  const meta = (data as { metadata?: unknown }).metadata;
  if (meta === undefined) return [];
  const fn = validateObjectMeta as unknown as ((d: unknown) => boolean) & {
    errors?: AjvLikeError[] | null;
  };
  return fn(meta)
    ? []
    : (fn.errors ?? []).map((e) => ({ ...e, instancePath: `/metadata${e.instancePath}` }));
};

/** `apiVersion/kind` → validator of the CRDs vendored in ../crds (every served version). */
function loadVendoredCrds(): Map<string, Validator> {
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  const validators = new Map<string, Validator>();
  for (const file of readdirSync(CRD_DIR).filter((name) => name.endsWith(".yaml"))) {
    const crd = parse(readFileSync(new URL(file, CRD_DIR), "utf8")) as {
      spec: {
        group: string;
        names: { kind: string };
        versions: { name: string; schema: { openAPIV3Schema: object } }[];
      };
    };
    for (const version of crd.spec.versions) {
      const schemaValidator = ajvValidator(ajv.compile(version.schema.openAPIV3Schema));
      validators.set(`${crd.spec.group}/${version.name}/${crd.spec.names.kind}`, (data) => [
        ...schemaValidator(data),
        ...objectMetaValidator(data),
      ]);
    }
  }
  return validators;
}

let vendoredCrds: Map<string, Validator> | undefined;

/** The validator for an apiVersion and kind, or why there is none. */
async function validatorFor(apiVersion: string, kind: string): Promise<Validator | string> {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  vendoredCrds ??= loadVendoredCrds();
  const vendored = vendoredCrds.get(`${group}/${version}/${kind}`);
  if (vendored) return vendored;
  const pkg =
    MODEL_PACKAGES[group as string] ??
    (isKubernetesGroup(group as string) ? "kubernetes-models" : undefined);
  if (!pkg) {
    return `no schema for ${apiVersion}: add its kubernetes-models package, or vendor its CRD in test/k8s/crds`;
  }
  let models: Record<string, unknown>;
  try {
    models = (await import(group ? `${pkg}/${group}/${version}` : `${pkg}/${version}`)) as Record<
      string,
      unknown
    >;
  } catch {
    return `${pkg} has no ${apiVersion}: a wrong or retired apiVersion?`;
  }
  const model = models[kind] as ModelClass | undefined;
  if (!model?.prototype?.validate) return `${apiVersion} has no kind ${kind}`;
  return modelValidator(model);
}

/** `/spec/template/spec/containers/0/image` → `spec.template.spec.containers[0].image` */
const dotted = (instancePath: string) =>
  instancePath
    .split("/")
    .slice(1)
    .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce(
      (path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part),
      "",
    );

function describeError(error: AjvLikeError | ErrorObject): string {
  const where = dotted(error.instancePath) || "(the object)";
  const allowed = error.params?.allowedValues as unknown[] | undefined;
  return `${where}: ${error.message ?? "is invalid"}${allowed ? ` (${allowed.join(", ")})` : ""}`;
}

/** Schema errors and undefined fields of one rendered object. */
export async function validateObject(object: K8sObject): Promise<Violation[]> {
  const name = objectName(object);
  if (typeof object.apiVersion !== "string" || typeof object.kind !== "string") {
    return [{ check: "schema", object: name, message: "has no apiVersion or kind" }];
  }
  const validator = await validatorFor(object.apiVersion, object.kind);
  if (typeof validator === "string") return [{ check: "schema", object: name, message: validator }];
  const trace = traceFieldReads(object);
  const errors = validator(trace.proxy);
  return [
    ...errors.map(
      (error): Violation => ({ check: "schema", object: name, message: describeError(error) }),
    ),
    ...trace.unknownFields().map(
      (path): Violation => ({
        check: "unknown-field",
        object: name,
        message: `${path}: not a field of ${object.kind} (${object.apiVersion}) — a typo, or a field of another version?`,
      }),
    ),
  ];
}

export async function validateObjects(objects: K8sObject[]): Promise<Violation[]> {
  return (await Promise.all(objects.map(validateObject))).flat();
}
