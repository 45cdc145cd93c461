import { describe, expect, it } from "vitest";
import { baseConfigSchema, ConfigError, DEV_JWT_SECRET, loadConfig } from "./config.ts";

const schema = baseConfigSchema("orders", 8083);

describe("loadConfig", () => {
  it("reads <SERVICE>_<KEY> before <KEY>", () => {
    const config = loadConfig("orders", schema, { PORT: "1", ORDERS_PORT: "2" });
    expect(config.PORT).toBe(2);
  });

  it("falls back to the dev-only JWT secret outside production", () => {
    expect(loadConfig("orders", schema, {}).AUTH_JWT_SECRET).toBe(DEV_JWT_SECRET);
  });

  it("refuses to start in production without a JWT secret or JWKS URL", () => {
    expect(() => loadConfig("orders", schema, { NODE_ENV: "production" })).toThrow(
      /set AUTH_JWT_SECRET or AUTH_JWKS_URL/,
    );
  });

  it("names every bad variable", () => {
    const attempt = () =>
      loadConfig("orders", schema, { PORT: "http", NATS_NAMESPACE: "Bad-Name" });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/PORT[\s\S]*NATS_NAMESPACE/);
  });
});
