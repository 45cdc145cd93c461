import { describe, expect, it } from "vitest";
import { afterFailedAttempt, MAX_RETRY_DELAY_MS } from "./retry.ts";

const policy = { maxAttempts: 8, baseMs: 2000 };

describe("afterFailedAttempt", () => {
  it("doubles the wait after each failed attempt, starting at the base", () => {
    const waits = [1, 2, 3, 4].map((n) => afterFailedAttempt(n, policy));
    expect(waits).toEqual(
      [2000, 4000, 8000, 16000].map((retryInMs) => ({ status: "pending", retryInMs })),
    );
  });

  it("fails the email for good after the last attempt", () => {
    expect(afterFailedAttempt(7, policy).status).toBe("pending");
    expect(afterFailedAttempt(8, policy)).toEqual({ status: "failed" });
  });

  it("never waits longer than an hour", () => {
    expect(afterFailedAttempt(25, { maxAttempts: 30, baseMs: 2000 })).toEqual({
      status: "pending",
      retryInMs: MAX_RETRY_DELAY_MS,
    });
  });
});
