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
    DATABASE_URL: z.url().default(`postgres://127.0.0.1:5432/codflow_${service}`),
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
  });
}

export type BaseConfig = z.infer<ReturnType<typeof baseConfigSchema>>;

/**
 * Reads `<SERVICE>_<KEY>` before `<KEY>`, so one shell can hold the settings of every service
 * (`CHECKOUT_PORT`, `ORDERS_DATABASE_URL`). Throws a ConfigError naming every bad variable.
 */
export function loadConfig<S extends z.ZodType<BaseConfig>>(
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
  const config = parsed.data;
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

/** `loadConfig` for a process entry point: a bad setting prints its message and exits 1. */
export function loadConfigOrExit<S extends z.ZodType<BaseConfig>>(
  service: string,
  schema: S,
): z.infer<S> {
  try {
    return loadConfig(service, schema);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(1);
  }
}
