import { describe, expect, it } from "vitest";
import { hasExpired, renderVerificationSms } from "./sms.ts";

const now = new Date("2026-01-01T12:00:00.000Z");
const request = (expiresAt: string) => ({
  verificationId: "0190f2a0-0000-7000-8000-000000000001",
  customerId: "customer-1",
  phone: "+15551230000",
  code: "042917",
  expiresAt,
});

describe("the verification SMS", () => {
  it("carries the code and how many minutes it stays valid", () => {
    expect(renderVerificationSms(request("2026-01-01T12:10:00.000Z"), now)).toEqual({
      to: "+15551230000",
      body: "Your codflow code is 042917. It expires in 10 minutes.",
    });
  });

  it("rounds the minutes up and says at least one", () => {
    expect(renderVerificationSms(request("2026-01-01T12:04:01.000Z"), now).body).toMatch(
      /expires in 5 minutes\.$/,
    );
    expect(renderVerificationSms(request("2026-01-01T12:00:20.000Z"), now).body).toMatch(
      /expires in 1 minute\.$/,
    );
  });

  it("is expired from the expiry instant on", () => {
    expect(hasExpired("2026-01-01T12:00:00.001Z", now)).toBe(false);
    expect(hasExpired("2026-01-01T12:00:00.000Z", now)).toBe(true);
    expect(hasExpired("2026-01-01T11:59:59.000Z", now)).toBe(true);
  });
});
