/**
 * What became of a verification SMS: `sent` (the gateway took it), `expired` (its code expired
 * before it could be sent, so it never was) or `failed` (the gateway kept failing until the
 * event was dead-lettered).
 */
export const SMS_STATUSES = ["sent", "expired", "failed"] as const;
export type SmsStatus = (typeof SMS_STATUSES)[number];
