import { ConfigError } from "@codflow/shared";
import { z } from "zod";

const upstreamList = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value) => value.split(",").map((url) => url.trim().replace(/\/+$/, "")))
    .pipe(
      z
        .array(z.url({ protocol: /^https?$/ }))
        .min(1)
        .max(31),
    );

const gatewayConfigSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default("127.0.0.1"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  CHECKOUT_URL: upstreamList("http://127.0.0.1:8081"),
  INVENTORY_URL: upstreamList("http://127.0.0.1:8082"),
  ORDERS_URL: upstreamList("http://127.0.0.1:8083"),
  /** Time allowed until the upstream's response headers arrive; a streaming body is not cut. */
  UPSTREAM_TIMEOUT_MS: z.coerce.number().int().min(1).default(15_000),
  /** Keep-alive connections to each service replica at most; more requests queue for one. */
  UPSTREAM_MAX_SOCKETS: z.coerce.number().int().min(1).default(512),
  /**
   * New connections to one replica that may be opening at once (not yet answered a request): a
   * busy Node service accepts one connection per event-loop turn, so a larger burst parks
   * requests in its accept queue while open connections come free (see connection-ramp.ts).
   */
  UPSTREAM_CONNECT_BURST: z.coerce.number().int().min(1).default(32),
  /** Each replica's /readyz is asked this often; a replica failing it gets no requests. */
  UPSTREAM_READINESS_INTERVAL_MS: z.coerce.number().int().min(100).default(1000),
  /** A replica that refused a connection gets no requests this long, or until its probe passes. */
  UPSTREAM_EJECTION_MS: z.coerce.number().int().min(0).default(5000),
  BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(1024 * 1024),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  /** Spans go to `${endpoint}/v1/traces` (OTLP/HTTP) when set; off otherwise. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
});

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;

/**
 * Reads `GATEWAY_<KEY>` before `<KEY>` (so `GATEWAY_PORT` wins over `PORT`). The upstream URLs
 * are comma-separated lists: requests are spread round-robin over the replicas.
 */
export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const merged: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value !== "") merged[key] = value;
  }
  for (const [key, value] of Object.entries(merged)) {
    if (key.startsWith("GATEWAY_")) merged[key.slice("GATEWAY_".length)] = value;
  }
  const parsed = gatewayConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`invalid configuration for gateway:\n${lines.join("\n")}`);
  }
  return parsed.data;
}
