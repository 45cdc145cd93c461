import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  BASE_PRODUCTION_SETTINGS,
  baseConfigSchema,
  ConfigError,
  DEV_JWT_SECRET,
  loadConfig,
  productionSettingsOf,
  requiredInProduction,
} from "./config.ts";

const schema = baseConfigSchema("orders", 8083);

/** Dev-only test values: what a production deployment gives every service. */
const production = {
  NODE_ENV: "production",
  DATABASE_URL: "postgres://codflow_orders@db.example:5432/codflow_orders",
  NATS_URL: "nats://nats.example:4222",
  AUTH_JWKS_URL: "https://auth.example/.well-known/jwks.json",
};

describe("loadConfig", () => {
  it("reads <SERVICE>_<KEY> before <KEY>", () => {
    const config = loadConfig("orders", schema, { PORT: "1", ORDERS_PORT: "2" });
    expect(config.PORT).toBe(2);
  });

  it("falls back to the dev-only JWT secret outside production", () => {
    expect(loadConfig("orders", schema, {}).AUTH_JWT_SECRET).toBe(DEV_JWT_SECRET);
  });

  it("refuses to start in production without a JWT secret or JWKS URL", () => {
    const { AUTH_JWKS_URL: _, ...withoutAuth } = production;
    expect(() => loadConfig("orders", schema, withoutAuth)).toThrow(
      /AUTH_JWT_SECRET or AUTH_JWKS_URL: required in production/,
    );
  });

  it("names every bad variable", () => {
    const attempt = () =>
      loadConfig("orders", schema, { PORT: "http", NATS_NAMESPACE: "Bad-Name" });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/PORT[\s\S]*NATS_NAMESPACE/);
  });
});

describe("settings required in production", () => {
  it("refuses to start naming every one that is missing, since their defaults are a developer's loopback", () => {
    const attempt = () => loadConfig("orders", schema, { NODE_ENV: "production" });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(
      [
        "invalid configuration for orders:",
        "  DATABASE_URL: required in production (the default is for development only)",
        "  NATS_URL: required in production (the default is for development only)",
        "  AUTH_JWT_SECRET or AUTH_JWKS_URL: required in production (the default is for development only)",
      ].join("\n"),
    );
  });

  it("starts when each is given, plainly or as <SERVICE>_<KEY>, and either auth key will do", () => {
    const config = loadConfig("orders", schema, {
      NODE_ENV: "production",
      ORDERS_DATABASE_URL: production.DATABASE_URL,
      NATS_URL: production.NATS_URL,
      AUTH_JWT_SECRET: "a-production-secret-of-32-chars!",
    });
    expect(config).toMatchObject({
      DATABASE_URL: production.DATABASE_URL,
      NATS_URL: production.NATS_URL,
      AUTH_JWT_SECRET: "a-production-secret-of-32-chars!",
    });
    expect(loadConfig("orders", schema, production).AUTH_JWKS_URL).toBe(production.AUTH_JWKS_URL);
  });

  it("does not count an empty value as given", () => {
    expect(() => loadConfig("orders", schema, { ...production, NATS_URL: "" })).toThrow(
      /NATS_URL: required in production/,
    );
  });

  it("are not needed outside production", () => {
    expect(loadConfig("orders", schema, { NODE_ENV: "test" }).DATABASE_URL).toBe(
      "postgres://codflow_orders@127.0.0.1:5432/codflow_orders",
    );
  });

  it("checks what a schema declares with requiredInProduction, reported with its bad values", () => {
    const declared = requiredInProduction(
      baseConfigSchema("notifier", 8084).extend({ SMTP_URL: z.url().optional() }),
      [...BASE_PRODUCTION_SETTINGS, "SMTP_URL"],
    );
    expect(productionSettingsOf(declared)).toContain("SMTP_URL");
    const attempt = () => loadConfig("notifier", declared, { ...production, PORT: "http" });
    expect(attempt).toThrow(/PORT: [^\n]*\n {2}SMTP_URL: required in production/);
    expect(
      loadConfig("notifier", declared, { ...production, SMTP_URL: "smtp://mail.example:25" }),
    ).toBeTruthy();
  });

  it("needs the base settings from a schema that declares none", () => {
    expect(productionSettingsOf(schema)).toEqual(BASE_PRODUCTION_SETTINGS);
  });

  it("never lets production fall back to the dev-only JWT secret, even if a schema leaves auth out", () => {
    const declared = requiredInProduction(baseConfigSchema("orders", 8083), ["DATABASE_URL"]);
    const { AUTH_JWKS_URL: _, ...withoutAuth } = production;
    expect(() => loadConfig("orders", declared, withoutAuth)).toThrow(
      /set AUTH_JWT_SECRET or AUTH_JWKS_URL/,
    );
  });
});
