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
    /** Deliveries before a failing message is dead-lettered (infrastructure errors never are). */
    CONSUMER_MAX_DELIVER: z.coerce.number().int().min(1).default(8),
    /** How long JetStream waits for an ack before redelivering to another replica. */
    CONSUMER_ACK_WAIT_MS: z.coerce.number().int().min(1000).default(30_000),
    CONSUMER_BACKOFF_BASE_MS: z.coerce.number().int().min(1).default(500),
    CONSUMER_BATCH_SIZE: z.coerce.number().int().min(1).max(1000).default(100),
    /** A crashed relay's claim on outbox rows expires after this. */
    OUTBOX_LEASE_SECONDS: z.coerce.number().int().min(1).default(30),
    /** When a stream is re-created (broker rebuilt empty), events published this recently are re-sent. */
    OUTBOX_REPLAY_WINDOW_SECONDS: z.coerce.number().int().min(0).default(3600),
    STREAM_WATCH_INTERVAL_MS: z.coerce.number().int().min(100).default(5000),
  });
}

export type BaseConfig = z.infer<ReturnType<typeof baseConfigSchema>>;

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
  const prefix = `${service.toUpperCase()}_`;
  const merged: Record<string, string | undefined> = { ...env };
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith(prefix) && value !== undefined) merged[key.slice(prefix.length)] = value;
  }
  for (const [key, value] of Object.entries(merged)) if (value === "") delete merged[key];
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`invalid configuration for ${service}:\n${lines.join("\n")}`);
  }
  return parsed.data;
}

/** A service's settings: `readEnvConfig` plus the auth rule (dev secret refused in production). */
export function loadConfig<S extends z.ZodType<BaseConfig>>(
  service: string,
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  const config = readEnvConfig(service, schema, env);
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
