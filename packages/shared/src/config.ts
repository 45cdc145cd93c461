import { z } from "zod";

/** A dev-only default: accepted only when NODE_ENV is not "production". */
export const DEV_JWT_SECRET = "dev-only-insecure-jwt-secret";

export class ConfigError extends Error {
  override name = "ConfigError";
}

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

/** Settings every service shares. Services extend this with their own keys. */
export function baseConfigSchema(service: string, defaultPort: number) {
  return z.object({
    NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
    SERVICE_NAME: z.string().default(service),
    LOG_LEVEL: z
      .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
      .default("info"),
    PORT: port(defaultPort),
    HOST: z.string().default("127.0.0.1"),
    /** Dev-only default: the service's own role (`pnpm migrate` provisions it), loopback trust. */
    DATABASE_URL: z
      .url()
      .default(`postgres://codflow_${service}@127.0.0.1:5432/codflow_${service}`),
    DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(100).default(8),
    NATS_URL: z.string().default("nats://127.0.0.1:4222"),
    NATS_NAMESPACE: z
      .string()
      .regex(/^[a-z][a-z0-9_]*$/, "lower-case letters, digits and _ only")
      .default("codflow"),
    NATS_STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
    AUTH_JWT_SECRET: z.string().min(16).optional(),
    AUTH_JWKS_URL: z.url().optional(),
    OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
    SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
    /** After SIGTERM, /readyz fails while requests are still served this long (a preStop). */
    SHUTDOWN_DRAIN_DELAY_MS: z.coerce.number().int().min(0).default(0),
    /** Deliveries before a failing message is dead-lettered (infrastructure errors never are). */
    CONSUMER_MAX_DELIVER: z.coerce.number().int().min(1).default(8),
    /**
     * How long JetStream waits for an ack before redelivering to another replica; a live consumer
     * keeps extending it for the messages it holds, up to ten times this (consume.ts).
     */
    CONSUMER_ACK_WAIT_MS: z.coerce.number().int().min(1000).default(30_000),
    CONSUMER_BACKOFF_BASE_MS: z.coerce.number().int().min(1).default(500),
    CONSUMER_BATCH_SIZE: z.coerce.number().int().min(1).max(1000).default(100),
    /**
     * How long a consumer's message may wait for others to share its transaction (0: none).
     * Below saturation a hop otherwise pays a transaction, a commit and the wake-ups of several
     * processes for each message or two; a message that already waited this long goes at once.
     */
    CONSUMER_LINGER_MS: z.coerce.number().int().min(0).max(5000).default(10),
    /** A crashed relay's claim on outbox rows expires after this. */
    OUTBOX_LEASE_SECONDS: z.coerce.number().int().min(1).default(30),
    /**
     * How long the relay lets published rows wait to be marked together (0: each publish marks
     * its own). At most 500 ms, so it stays below the shortest lease (1 s).
     */
    OUTBOX_MARK_DELAY_MS: z.coerce.number().int().min(0).max(500).default(100),
    /** When a stream is re-created (broker rebuilt empty), events published this recently are re-sent. */
    OUTBOX_REPLAY_WINDOW_SECONDS: z.coerce.number().int().min(0).default(3600),
    STREAM_WATCH_INTERVAL_MS: z.coerce.number().int().min(100).default(5000),
    /**
     * `/healthz` (the liveness probe) fails while a database call has been in flight longer than
     * this; 0 turns the check off. A call fails within the connect timeout when PostgreSQL is
     * down, so one this old means a wedged connection pool or a blackholed socket: a restart heals it.
     */
    LIVENESS_MAX_DB_CALL_SECONDS: z.coerce.number().int().min(0).default(300),
  });
}

export type BaseConfig = z.infer<ReturnType<typeof baseConfigSchema>>;

/** The environment as `readEnvConfig` describes it: prefixed keys win, empty values dropped. */
function serviceEnv(service: string, env: NodeJS.ProcessEnv): Record<string, string> {
  const prefix = `${service.toUpperCase()}_`;
  const merged: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value) merged[key] = value;
  for (const [key, value] of Object.entries(merged)) {
    if (key.startsWith(prefix)) merged[key.slice(prefix.length)] = value;
  }
  return merged;
}

/** Parses the merged environment; throws one ConfigError naming every bad variable. */
function parseServiceEnv<S extends z.ZodType>(
  service: string,
  schema: S,
  merged: Record<string, string>,
  otherProblems: string[] = [],
): z.infer<S> {
  const parsed = schema.safeParse(merged);
  if (parsed.success && otherProblems.length === 0) return parsed.data;
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`)),
    ...otherProblems,
  ];
  const lines = problems.map((problem) => `  ${problem}`);
  throw new ConfigError(`invalid configuration for ${service}:\n${lines.join("\n")}`);
}

/**
 * Reads `<SERVICE>_<KEY>` before `<KEY>` into any zod schema, so one shell can hold the settings
 * of every service (`CHECKOUT_PORT`, `GATEWAY_PORT`); an empty value counts as unset. Throws a
 * ConfigError naming every bad variable.
 */
export function readEnvConfig<S extends z.ZodType>(
  service: string,
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  return parseServiceEnv(service, schema, serviceEnv(service, env));
}

/** A setting production must be given: one variable, or several of which any one will do. */
export type ProductionSetting = string | readonly [string, ...string[]];

/**
 * What every service must be given in production: the defaults of these point at a developer's
 * loopback PostgreSQL and NATS, and the dev-only JWT secret is public.
 */
export const BASE_PRODUCTION_SETTINGS: readonly ProductionSetting[] = [
  "DATABASE_URL",
  "NATS_URL",
  ["AUTH_JWT_SECRET", "AUTH_JWKS_URL"],
];

const productionSettings = z.registry<{ settings: readonly ProductionSetting[] }>();

/**
 * Declares the settings a schema's service refuses to start without under NODE_ENV=production
 * (`loadConfig` checks them; the Kubernetes manifests are tested against the same list):
 *
 * ```ts
 * export const configSchema = requiredInProduction(
 *   baseConfigSchema("notifier", 8084).extend({ SMTP_URL: z.url().optional() }),
 *   [...BASE_PRODUCTION_SETTINGS, "SMTP_URL"],
 * );
 * ```
 */
export function requiredInProduction<S extends z.ZodType>(
  schema: S,
  settings: readonly ProductionSetting[],
): S {
  productionSettings.add(schema, { settings });
  return schema;
}

/** The settings declared with `requiredInProduction`; a schema without them needs the base ones. */
export function productionSettingsOf(schema: z.ZodType): readonly ProductionSetting[] {
  return productionSettings.get(schema)?.settings ?? BASE_PRODUCTION_SETTINGS;
}

/** `AUTH_JWT_SECRET or AUTH_JWKS_URL` */
export const describeSetting = (setting: ProductionSetting) =>
  typeof setting === "string" ? setting : setting.join(" or ");

/** The production settings that `env` (already merged by `serviceEnv`) does not provide. */
function missingInProduction(
  schema: z.ZodType,
  merged: Record<string, string>,
): ProductionSetting[] {
  return productionSettingsOf(schema).filter((setting) =>
    (typeof setting === "string" ? [setting] : setting).every((key) => !(key in merged)),
  );
}

/**
 * A service's settings: `readEnvConfig`, and under NODE_ENV=production every setting declared
 * with `requiredInProduction` must be given (their defaults are for development only). Outside
 * production the dev-only JWT secret fills in for a missing AUTH_JWT_SECRET and AUTH_JWKS_URL;
 * in production it never does, whatever a schema declares.
 */
export function loadConfig<S extends z.ZodType<BaseConfig>>(
  service: string,
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  const merged = serviceEnv(service, env);
  const missing = merged.NODE_ENV === "production" ? missingInProduction(schema, merged) : [];
  const config = parseServiceEnv(
    service,
    schema,
    merged,
    missing.map(
      (setting) =>
        `${describeSetting(setting)}: required in production (the default is for development only)`,
    ),
  );
  if (!config.AUTH_JWT_SECRET && !config.AUTH_JWKS_URL) {
    if (config.NODE_ENV === "production") {
      throw new ConfigError(
        `invalid configuration for ${service}: set AUTH_JWT_SECRET or AUTH_JWKS_URL (the dev-only default secret is refused in production)`,
      );
    }
    config.AUTH_JWT_SECRET = DEV_JWT_SECRET;
  }
  return config;
}

/** For a process entry point: a ConfigError from `load` prints its message and exits 1. */
export function configOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(1);
  }
}

/** `loadConfig` for a service's entry point. */
export const loadConfigOrExit = <S extends z.ZodType<BaseConfig>>(service: string, schema: S) =>
  configOrExit(() => loadConfig(service, schema));
