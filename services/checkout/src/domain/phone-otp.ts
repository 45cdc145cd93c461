/**
 * Phone one-time codes: six random digits, kept only as a salted SHA-256 and compared in
 * constant time; and the pure rules for resending and confirming them.
 */
import { createHash, randomBytes, randomInt, timingSafeEqual } from "node:crypto";

/** Wrong codes allowed per code sent; the next try is refused even with the right code. */
export const MAX_OTP_ATTEMPTS = 5;

export function newOtp() {
  const code = randomInt(0, 1_000_000).toString().padStart(6, "0");
  const salt = randomBytes(16).toString("base64url");
  return { code, salt, hash: hashOtp(code, salt) };
}

export function hashOtp(code: string, salt: string) {
  return createHash("sha256").update(salt).update(":").update(code).digest("base64url");
}

export function otpMatches(code: string, salt: string, hash: string) {
  const expected = Buffer.from(hash, "base64url");
  const actual = Buffer.from(hashOtp(code, salt), "base64url");
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

export interface ResendFacts {
  /** When this customer was last sent a code, if ever. */
  lastSentAt: Date | null;
  /** Codes sent to this customer in the hour before `now`. */
  sentInLastHour: number;
  /** When the oldest of those was sent (the hour frees up from there). */
  oldestInLastHourAt: Date | null;
  now: Date;
}

export interface ResendRules {
  resendSeconds: number;
  sendsPerHour: number;
}

export type ResendDecision = { send: true } | { send: false; retryAfterSeconds: number };

export function decideResend(facts: ResendFacts, rules: ResendRules): ResendDecision {
  const now = facts.now.getTime();
  if (facts.sentInLastHour >= rules.sendsPerHour && facts.oldestInLastHourAt) {
    const freesAt = facts.oldestInLastHourAt.getTime() + 60 * 60 * 1000;
    return { send: false, retryAfterSeconds: secondsUntil(freesAt, now) };
  }
  if (facts.lastSentAt) {
    const nextAt = facts.lastSentAt.getTime() + rules.resendSeconds * 1000;
    if (nextAt > now) return { send: false, retryAfterSeconds: secondsUntil(nextAt, now) };
  }
  return { send: true };
}

export interface PendingCode {
  attempts: number;
  expiresAt: Date;
  verified: boolean;
}

export type Confirmation = "verified" | "invalid" | "expired" | "attempts-exceeded";

/**
 * The spent attempts are judged before the code, so a guess after the fifth wrong one learns
 * nothing; an expired or used code is `expired` (the customer asks for a new one).
 */
export function judgeConfirmation(
  pending: PendingCode | undefined,
  { matches, now }: { matches: boolean; now: Date },
): Confirmation {
  if (!pending || pending.verified) return "expired";
  if (pending.attempts >= MAX_OTP_ATTEMPTS) return "attempts-exceeded";
  if (pending.expiresAt.getTime() <= now.getTime()) return "expired";
  return matches ? "verified" : "invalid";
}

const secondsUntil = (at: number, now: number) => Math.max(1, Math.ceil((at - now) / 1000));
