import type { EventData } from "@codflow/shared";

export interface SmsMessage {
  to: string;
  body: string;
}

/** True once the code can no longer be used: sending it then would only confuse the customer. */
export const hasExpired = (expiresAt: string, now: Date) => Date.parse(expiresAt) <= now.getTime();

/**
 * The one-time-code SMS, with how long the code stays valid in whole minutes (rounded up, at
 * least 1). Example: code 123456 expiring in 10 minutes → "Your codflow code is 123456. It
 * expires in 10 minutes."
 */
export function renderVerificationSms(
  { phone, code, expiresAt }: EventData<"checkout.phone_verification_requested">,
  now: Date,
): SmsMessage {
  const minutes = Math.max(1, Math.ceil((Date.parse(expiresAt) - now.getTime()) / 60_000));
  return {
    to: phone,
    body: `Your codflow code is ${code}. It expires in ${minutes} ${minutes === 1 ? "minute" : "minutes"}.`,
  };
}
