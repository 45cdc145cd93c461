import { ConfigError, loadConfig, readEnvConfig } from "@codflow/shared";
import { describe, expect, it } from "vitest";
import { configSchema } from "./config.ts";

describe("checkout configuration", () => {
  it("re-drives after 15 s and times out after 120 s by default", () => {
    const config = readEnvConfig("checkout", configSchema, {});
    expect(config).toMatchObject({
      CHECKOUT_REDRIVE_INTERVAL_MS: 1000,
      CHECKOUT_REDRIVE_AFTER_SECONDS: 15,
      CHECKOUT_DEADLINE_SECONDS: 120,
    });
  });

  it("defaults the COD rules, the phone codes and the rate limits to what a storefront wants", () => {
    const config = readEnvConfig("checkout", configSchema, {});
    expect(config).toMatchObject({
      COD_MAX_ACTIVE_ORDERS: 3,
      COD_AUTO_DISABLE_THRESHOLD: 2,
      COD_AUTO_DISABLE_WINDOW_DAYS: 90,
      PHONE_OTP_TTL_SECONDS: 600,
      PHONE_OTP_RESEND_SECONDS: 30,
      PHONE_OTP_SENDS_PER_HOUR: 5,
      RATE_LIMIT_CHECKOUT_PER_CUSTOMER: 10,
      RATE_LIMIT_CHECKOUT_PER_IP: 120,
      RATE_LIMIT_CHECKOUT_WINDOW_SECONDS: 60,
      RATE_LIMIT_OTP_PER_CUSTOMER: 10,
      RATE_LIMIT_OTP_PER_IP: 30,
      RATE_LIMIT_OTP_WINDOW_SECONDS: 600,
    });
  });

  it("refuses a deadline not larger than the re-drive threshold", () => {
    const env = { CHECKOUT_REDRIVE_AFTER_SECONDS: "30", CHECKOUT_DEADLINE_SECONDS: "30" };
    expect(() => readEnvConfig("checkout", configSchema, env)).toThrow(ConfigError);
    expect(() => readEnvConfig("checkout", configSchema, env)).toThrow(
      /CHECKOUT_DEADLINE_SECONDS: must be larger than CHECKOUT_REDRIVE_AFTER_SECONDS/,
    );
  });

  it("refuses to start in production without its database, broker and JWT key", () => {
    expect(() => loadConfig("checkout", configSchema, { NODE_ENV: "production" })).toThrow(
      /DATABASE_URL: required in production[\s\S]*NATS_URL: required[\s\S]*AUTH_JWT_SECRET or AUTH_JWKS_URL: required/,
    );
    const config = loadConfig("checkout", configSchema, {
      NODE_ENV: "production",
      DATABASE_URL: "postgres://codflow_checkout@db.example:5432/codflow_checkout",
      NATS_URL: "nats://nats.example:4222",
      AUTH_JWKS_URL: "https://auth.example/.well-known/jwks.json",
    });
    expect(config.COD_MAX_ACTIVE_ORDERS).toBe(3);
  });
});
