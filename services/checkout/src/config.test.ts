import { ConfigError, readEnvConfig } from "@codflow/shared";
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

  it("refuses a deadline not larger than the re-drive threshold", () => {
    const env = { CHECKOUT_REDRIVE_AFTER_SECONDS: "30", CHECKOUT_DEADLINE_SECONDS: "30" };
    expect(() => readEnvConfig("checkout", configSchema, env)).toThrow(ConfigError);
    expect(() => readEnvConfig("checkout", configSchema, env)).toThrow(
      /CHECKOUT_DEADLINE_SECONDS: must be larger than CHECKOUT_REDRIVE_AFTER_SECONDS/,
    );
  });
});
