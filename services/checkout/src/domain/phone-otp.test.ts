import { describe, expect, it } from "vitest";
import {
  decideResend,
  hashOtp,
  judgeConfirmation,
  MAX_OTP_ATTEMPTS,
  newOtp,
  otpMatches,
} from "./phone-otp.ts";

const now = new Date("2026-06-01T12:00:00Z");
const secondsAgo = (s: number) => new Date(now.getTime() - s * 1000);

describe("newOtp", () => {
  it("makes six digits and keeps a salted hash that only the same code matches", () => {
    const otp = newOtp();
    expect(otp.code).toMatch(/^\d{6}$/);
    expect(otp.hash).not.toContain(otp.code);
    expect(otpMatches(otp.code, otp.salt, otp.hash)).toBe(true);
    const wrong = otp.code === "000000" ? "000001" : "000000";
    expect(otpMatches(wrong, otp.salt, otp.hash)).toBe(false);
    expect(hashOtp(otp.code, "another-salt")).not.toBe(otp.hash);
  });
});

describe("decideResend", () => {
  const rules = { resendSeconds: 30, sendsPerHour: 5 };
  const fresh = { lastSentAt: null, sentInLastHour: 0, oldestInLastHourAt: null, now };

  it("sends a first code", () => {
    expect(decideResend(fresh, rules)).toEqual({ send: true });
  });

  it("waits 30 s between two codes", () => {
    const recent = {
      ...fresh,
      lastSentAt: secondsAgo(10),
      sentInLastHour: 1,
      oldestInLastHourAt: secondsAgo(10),
    };
    expect(decideResend(recent, rules)).toEqual({ send: false, retryAfterSeconds: 20 });
    expect(decideResend({ ...recent, lastSentAt: secondsAgo(30) }, rules)).toEqual({ send: true });
  });

  it("sends at most 5 codes an hour, until the oldest leaves the hour", () => {
    const busy = {
      lastSentAt: secondsAgo(120),
      sentInLastHour: 5,
      oldestInLastHourAt: secondsAgo(3000),
      now,
    };
    expect(decideResend(busy, rules)).toEqual({ send: false, retryAfterSeconds: 600 });
    expect(decideResend({ ...busy, sentInLastHour: 4 }, rules)).toEqual({ send: true });
  });
});

describe("judgeConfirmation", () => {
  const pending = { attempts: 0, expiresAt: new Date(now.getTime() + 60_000), verified: false };

  it("verifies the right code and refuses a wrong one as invalid", () => {
    expect(judgeConfirmation(pending, { matches: true, now })).toBe("verified");
    expect(judgeConfirmation(pending, { matches: false, now })).toBe("invalid");
  });

  it("refuses any code after 5 wrong ones, the right one too", () => {
    const spent = { ...pending, attempts: MAX_OTP_ATTEMPTS };
    expect(MAX_OTP_ATTEMPTS).toBe(5);
    expect(judgeConfirmation(spent, { matches: true, now })).toBe("attempts-exceeded");
    expect(judgeConfirmation({ ...pending, attempts: 4 }, { matches: true, now })).toBe("verified");
  });

  it("refuses an expired, used or never sent code as expired", () => {
    expect(judgeConfirmation({ ...pending, expiresAt: now }, { matches: true, now })).toBe(
      "expired",
    );
    expect(judgeConfirmation({ ...pending, verified: true }, { matches: true, now })).toBe(
      "expired",
    );
    expect(judgeConfirmation(undefined, { matches: true, now })).toBe("expired");
  });
});
