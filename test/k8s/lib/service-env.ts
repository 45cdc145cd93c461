/**
 * The environment each codflow container receives, held against the code that reads it: every
 * variable is a setting of its service's config schema (or one of the few the runtime reads),
 * every literal value parses, every setting the service requires in production is given, and
 * the process listens where its probes and Service look.
 */
import {
  describeSetting,
  type ProductionSetting,
  productionSettingsOf,
  readEnvConfig,
} from "@codflow/shared";
import { z } from "zod";
import { configSchema as checkoutSchema } from "../../../services/checkout/src/config.ts";
import { configSchema as inventorySchema } from "../../../services/inventory/src/config.ts";
import { configSchema as notifierSchema } from "../../../services/notifier/src/config.ts";
import { configSchema as ordersSchema } from "../../../services/orders/src/config.ts";
import {
  type Container,
  isLongRunning,
  type K8sObject,
  objectName,
  podTemplateOf,
} from "./objects.ts";
import type { Check, Violation } from "./violations.ts";

/** A service's pods carry `app.kubernetes.io/name: <service>`; their env is read by this schema. */
export const SERVICE_SCHEMAS: Record<string, z.ZodType> = {
  checkout: checkoutSchema,
  inventory: inventorySchema,
  orders: ordersSchema,
  notifier: notifierSchema,
};

/**
 * Variables a codflow process reads besides its config schema: the OpenTelemetry SDK's
 * (sampler, exporter headers, timeout, compression) and Node's own. OTEL_SERVICE_NAME is the
 * issue's convention for every pod; telemetry.ts names the service from SERVICE_NAME, so the two
 * must agree (checked below).
 */
export const RUNTIME_VARIABLES: readonly string[] = [
  "OTEL_SERVICE_NAME",
  "OTEL_TRACES_SAMPLER",
  "OTEL_TRACES_SAMPLER_ARG",
  "OTEL_EXPORTER_OTLP_HEADERS",
  "OTEL_EXPORTER_OTLP_TIMEOUT",
  "OTEL_EXPORTER_OTLP_COMPRESSION",
  "NODE_OPTIONS",
];

/** What every long-running service container needs in a cluster beyond what its code requires. */
export const CLUSTER_SETTINGS: readonly ProductionSetting[] = [
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_SERVICE_NAME",
];

const keysOf = (schema: z.ZodType) =>
  Object.keys(
    (z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as { properties?: object })
      .properties ?? {},
  );

interface ReceivedEnv {
  /** Every variable the container gets, with where it comes from (`env`, `ConfigMap x`). */
  sources: Map<string, string>;
  /** The values the manifests spell out (env values, ConfigMap data, Secrets they hold). */
  values: Record<string, string>;
  problems: string[];
}

const decodeSecret = (data: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(data).map(([key, value]) => [
      key,
      Buffer.from(value, "base64").toString("utf8"),
    ]),
  );

/** The environment as the kubelet builds it: envFrom in order, then env, later ones winning. */
function receivedEnv(container: Container, objects: K8sObject[], namespace?: string): ReceivedEnv {
  const env: ReceivedEnv = { sources: new Map(), values: {}, problems: [] };
  const find = (kind: string, name: string) =>
    objects.find(
      (o) => o.kind === kind && o.metadata.name === name && o.metadata.namespace === namespace,
    );
  for (const [i, source] of (container.envFrom ?? []).entries()) {
    const ref = source.configMapRef ?? source.secretRef;
    if (!ref) continue;
    const kind = source.configMapRef ? "ConfigMap" : "Secret";
    const object = find(kind, ref.name);
    if (!object) {
      if (ref.optional) continue;
      env.problems.push(
        kind === "ConfigMap"
          ? `envFrom[${i}]: ConfigMap ${ref.name} is not in the manifests`
          : `envFrom[${i}]: Secret ${ref.name} is not in the manifests, so the variables it gives cannot be checked: name each with env[].valueFrom.secretKeyRef`,
      );
      continue;
    }
    const data =
      kind === "ConfigMap"
        ? ((object.data ?? {}) as Record<string, string>)
        : {
            ...decodeSecret((object.data ?? {}) as Record<string, string>),
            ...((object.stringData ?? {}) as Record<string, string>),
          };
    for (const [key, value] of Object.entries(data)) {
      const name = `${source.prefix ?? ""}${key}`;
      env.sources.set(name, `${kind} ${ref.name}`);
      env.values[name] = value;
    }
  }
  for (const variable of container.env ?? []) {
    env.sources.set(variable.name, "env");
    if (variable.value !== undefined) env.values[variable.name] = variable.value;
    else delete env.values[variable.name];
  }
  return env;
}

const isGiven = (setting: ProductionSetting, service: string, sources: Map<string, string>) =>
  (typeof setting === "string" ? [setting] : setting).some(
    (key) => sources.has(key) || sources.has(`${service.toUpperCase()}_${key}`),
  );

/** The value the service reads for `key`: `<SERVICE>_<KEY>` first, as readEnvConfig does. */
const valueFor = (key: string, service: string, values: Record<string, string>) =>
  values[`${service.toUpperCase()}_${key}`] ?? values[key];

interface ServiceEnvOptions {
  /** The prod overlay: every service container must run with NODE_ENV=production. */
  production: boolean;
}

/** One service container's environment, with what the checks need to judge it. */
interface ServiceContainer {
  service: string;
  schema: z.ZodType;
  container: Container;
  env: ReceivedEnv;
  /** The settings as the service would parse them, when the values parse. */
  config: Record<string, unknown> | undefined;
  /** Why they do not. */
  configError: string | undefined;
}

type Problem = { check: Check; message: string };

/** Variables the schema does not know, and values it refuses. */
function settingProblems({ service, schema, env, configError }: ServiceContainer): Problem[] {
  const known = new Set(keysOf(schema));
  const prefix = `${service.toUpperCase()}_`;
  const problems: Problem[] = env.problems.map((message) => ({ check: "env", message }));
  for (const [name, source] of env.sources) {
    const isSetting =
      known.has(name) || (name.startsWith(prefix) && known.has(name.slice(prefix.length)));
    if (!isSetting && !RUNTIME_VARIABLES.includes(name)) {
      problems.push({
        check: "env",
        message: `${name} (from ${source}) is not a setting of ${service} (services/${service}/src/config.ts) nor one the runtime reads: a typo, or a setting the code no longer has?`,
      });
    }
  }
  if (configError) problems.push({ check: "env", message: configError });
  return problems;
}

/** NODE_ENV=production where it must be, and then every setting the service requires. */
function productionProblems(
  { service, schema, env }: ServiceContainer,
  production: boolean,
): Problem[] {
  const nodeEnv = valueFor("NODE_ENV", service, env.values);
  if (production && nodeEnv !== "production") {
    return [
      {
        check: "production-settings",
        message: `NODE_ENV is ${nodeEnv ?? "not set"}: the prod overlay must run NODE_ENV=production, or the service skips its production checks`,
      },
    ];
  }
  if (nodeEnv !== "production") return [];
  const missing = productionSettingsOf(schema).filter((s) => !isGiven(s, service, env.sources));
  if (missing.length === 0) return [];
  return [
    {
      check: "production-settings",
      message: `${missing.map(describeSetting).join(", ")}: required in production by services/${service}/src/config.ts, not given: the service would refuse to start`,
    },
  ];
}

/** A long-running service pod: traced to the Collector, listening where probes and Service look. */
function servingProblems({ service, container, env, config }: ServiceContainer): Problem[] {
  const problems: Problem[] = [];
  const missing = CLUSTER_SETTINGS.filter((setting) => !isGiven(setting, service, env.sources));
  if (missing.length > 0) {
    problems.push({
      check: "production-settings",
      message: `${missing.map(describeSetting).join(", ")}: every service pod gets these (traces to the OpenTelemetry Collector)`,
    });
  }
  if (!config) return problems;
  const otelName = env.values.OTEL_SERVICE_NAME;
  if (otelName !== undefined && otelName !== config.SERVICE_NAME) {
    problems.push({
      check: "env",
      message: `OTEL_SERVICE_NAME is ${otelName} but the service names its traces ${String(config.SERVICE_NAME)} (SERVICE_NAME)`,
    });
  }
  if (["127.0.0.1", "localhost", "::1"].includes(String(config.HOST))) {
    problems.push({
      check: "env",
      message: `HOST is ${String(config.HOST)}: the service would listen on loopback only, out of reach of its probes and Service (set HOST=0.0.0.0)`,
    });
  }
  const ports = container.ports ?? [];
  if (!ports.some((port) => port.containerPort === config.PORT)) {
    problems.push({
      check: "env",
      message: `PORT is ${String(config.PORT)} but the container declares ports ${ports.map((p) => p.containerPort).join(", ") || "none"}: probes and the Service would miss it`,
    });
  }
  return problems;
}

/** The settings the service would start with (secret values left out), or its ConfigError. */
function parseSettings(service: string, schema: z.ZodType, values: Record<string, string>) {
  try {
    const config = readEnvConfig(service, schema, values) as Record<string, unknown>;
    return { config, configError: undefined };
  } catch (err) {
    return { config: undefined, configError: (err as Error).message.replace(/\n\s*/g, " ") };
  }
}

/** Env checks for every container of every pod labelled as a codflow service. */
export function checkServiceEnv(objects: K8sObject[], options: ServiceEnvOptions): Violation[] {
  const violations: Violation[] = [];
  for (const object of objects) {
    const found = podTemplateOf(object);
    const service = found?.template.metadata?.labels?.["app.kubernetes.io/name"];
    if (!found || !service || !(service in SERVICE_SCHEMAS)) continue;
    const schema = SERVICE_SCHEMAS[service] as z.ZodType;
    for (const [i, container] of found.template.spec.containers.entries()) {
      const env = receivedEnv(container, objects, object.metadata.namespace);
      const subject: ServiceContainer = {
        service,
        schema,
        container,
        env,
        ...parseSettings(service, schema, env.values),
      };
      const problems = [
        ...settingProblems(subject),
        ...productionProblems(subject, options.production),
        ...(isLongRunning(object) ? servingProblems(subject) : []),
      ];
      for (const { check, message } of problems) {
        violations.push({
          check,
          object: objectName(object),
          message: `${found.path}spec.containers[${i}] (${container.name}): ${message}`,
        });
      }
    }
  }
  return violations;
}
