import { BASE_PRODUCTION_SETTINGS, baseConfigSchema, requiredInProduction } from "@codflow/shared";
import { z } from "zod";

/** Dev-only: a local mail catcher (Mailpit, MailHog). Production must set SMTP_URL. */
export const DEV_SMTP_URL = "smtp://127.0.0.1:1025";

/** Dev-only: the SMS sink `pnpm start` runs (scripts/lib/sms-sink.ts). Production must set SMS_GATEWAY_URL. */
export const DEV_SMS_GATEWAY_URL = "http://127.0.0.1:1090/sms";

const ADDRESS = /^(?:[^<>]*<[^<>\s@]+@[^<>\s@]+>|[^<>\s@]+@[^<>\s@]+)$/;

const notifierConfigSchema = baseConfigSchema("notifier", 8084)
  .extend({
    /** SMTP server, e.g. `smtps://user:pass@smtp.example.com:465`; DEV_SMTP_URL when unset (dev only). */
    SMTP_URL: z.url({ protocol: /^smtps?$/ }).optional(),
    MAIL_FROM: z
      .string()
      .regex(ADDRESS, "an address, e.g. codflow <no-reply@example.com>")
      .default("codflow <no-reply@codflow.local>"),
    /** Takes `POST` JSON `{to, body}` (2xx = accepted); DEV_SMS_GATEWAY_URL when unset (dev only). */
    SMS_GATEWAY_URL: z.url({ protocol: /^https?$/ }).optional(),
    /** Sending attempts per email before it is marked failed. */
    NOTIFY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(30).default(8),
    /** The first retry waits this long; each next one twice as long. */
    NOTIFY_RETRY_BASE_MS: z.coerce.number().int().min(1).default(2000),
    /**
     * How long an event that queues an email may wait for others to share its transaction (0:
     * none). Emails are on no checkout's path; one-time codes (SMS) keep `CONSUMER_LINGER_MS`.
     */
    NOTIFY_LINGER_MS: z.coerce.number().int().min(0).max(5000).default(200),
  })
  .transform((config) => ({
    ...config,
    SMTP_URL: config.SMTP_URL ?? DEV_SMTP_URL,
    SMS_GATEWAY_URL: config.SMS_GATEWAY_URL ?? DEV_SMS_GATEWAY_URL,
  }));

/** Production also gives the real mail server and SMS gateway: the defaults are local sinks. */
export const configSchema = requiredInProduction(notifierConfigSchema, [
  ...BASE_PRODUCTION_SETTINGS,
  "SMTP_URL",
  "SMS_GATEWAY_URL",
]);

export type Config = z.infer<typeof configSchema>;
