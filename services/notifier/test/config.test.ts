import { ConfigError, loadConfig } from "@codflow/shared";
import { describe, expect, it } from "vitest";
import { configSchema, DEV_SMS_GATEWAY_URL, DEV_SMTP_URL } from "../src/config.ts";

/** Dev-only test values: what production gives every service besides the notifier's own settings. */
const production = {
  NODE_ENV: "production",
  DATABASE_URL: "postgres://codflow_notifier@db.example:5432/codflow_notifier",
  NATS_URL: "nats://nats.example:4222",
  AUTH_JWT_SECRET: "a-production-secret-of-32-chars!",
};

describe("notifier configuration", () => {
  it("refuses to start in production without SMTP_URL", () => {
    expect(() => loadConfig("notifier", configSchema, production)).toThrow(ConfigError);
    expect(() => loadConfig("notifier", configSchema, production)).toThrow(
      /SMTP_URL: required in production/,
    );
  });

  it("refuses to start in production without SMS_GATEWAY_URL", () => {
    expect(() =>
      loadConfig("notifier", configSchema, {
        ...production,
        SMTP_URL: "smtps://mailer:pw@smtp.example.com:465",
      }),
    ).toThrow(/SMS_GATEWAY_URL: required in production/);
  });

  it("names both the mail server and the SMS gateway when production gives neither", () => {
    expect(() => loadConfig("notifier", configSchema, production)).toThrow(
      /SMTP_URL: required in production[^\n]*\n {2}SMS_GATEWAY_URL: required in production/,
    );
  });

  it("uses the dev-only local SMTP server outside production", () => {
    const config = loadConfig("notifier", configSchema, {});
    expect(config.SMTP_URL).toBe(DEV_SMTP_URL);
    expect(config.SMS_GATEWAY_URL).toBe(DEV_SMS_GATEWAY_URL);
    expect(config.MAIL_FROM).toBe("codflow <no-reply@codflow.local>");
    expect(config.NOTIFY_MAX_ATTEMPTS).toBe(8);
  });

  it("takes SMTP_URL, MAIL_FROM and SMS_GATEWAY_URL from the environment, prefixed or not", () => {
    const config = loadConfig("notifier", configSchema, {
      ...production,
      NOTIFIER_SMTP_URL: "smtps://mailer:pw@smtp.example.com:465",
      MAIL_FROM: "Shop <orders@shop.example>",
      SMS_GATEWAY_URL: "https://sms.example.com/v1/messages",
    });
    expect(config.SMTP_URL).toBe("smtps://mailer:pw@smtp.example.com:465");
    expect(config.SMS_GATEWAY_URL).toBe("https://sms.example.com/v1/messages");
    expect(config.MAIL_FROM).toBe("Shop <orders@shop.example>");
  });

  it("refuses a MAIL_FROM without an address", () => {
    expect(() => loadConfig("notifier", configSchema, { MAIL_FROM: "codflow" })).toThrow(
      /MAIL_FROM/,
    );
  });
});
