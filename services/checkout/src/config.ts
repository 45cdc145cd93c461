import { BASE_PRODUCTION_SETTINGS, baseConfigSchema, requiredInProduction } from "@codflow/shared";
import { z } from "zod";

const checkoutConfigSchema = baseConfigSchema("checkout", 8081)
  .extend({
    /** The largest COD order total, in minor units of the (single) market currency. */
    COD_MAX_ORDER_MINOR: z.coerce.number().int().positive().default(50_000_00),
    /** COD orders a customer may have accepted and not yet delivered, cancelled or returned. */
    COD_MAX_ACTIVE_ORDERS: z.coerce.number().int().positive().default(3),
    /** Failed or returned COD deliveries within the window that disable COD for a customer. */
    COD_AUTO_DISABLE_THRESHOLD: z.coerce.number().int().positive().default(2),
    COD_AUTO_DISABLE_WINDOW_DAYS: z.coerce.number().int().positive().default(90),
    /** How long a phone verification code stays valid. */
    PHONE_OTP_TTL_SECONDS: z.coerce.number().int().min(30).default(600),
    /** The least time between two codes sent to one customer. */
    PHONE_OTP_RESEND_SECONDS: z.coerce.number().int().min(0).default(30),
    /** The most codes sent to one customer within an hour (SMS cost, harassment). */
    PHONE_OTP_SENDS_PER_HOUR: z.coerce.number().int().positive().default(5),
    /**
     * HTTP rate limits (fixed windows counted in Postgres, so replicas share them): requests
     * per customer and per client IP. Load tests from one address raise the per-IP limits.
     */
    RATE_LIMIT_CHECKOUT_PER_CUSTOMER: z.coerce.number().int().positive().default(10),
    /** 0 turns the per-IP limits off: for an edge (CDN, API gateway) that already limits per IP. */
    RATE_LIMIT_CHECKOUT_PER_IP: z.coerce.number().int().nonnegative().default(120),
    RATE_LIMIT_CHECKOUT_WINDOW_SECONDS: z.coerce.number().int().positive().default(60),
    RATE_LIMIT_OTP_PER_CUSTOMER: z.coerce.number().int().positive().default(10),
    RATE_LIMIT_OTP_PER_IP: z.coerce.number().int().nonnegative().default(30),
    RATE_LIMIT_OTP_WINDOW_SECONDS: z.coerce.number().int().positive().default(600),
    /**
     * Acceptance transactions in flight at once; checkout requests arriving meanwhile wait and
     * are accepted together in the next one (group commit: fewer round trips per order under load).
     */
    CHECKOUT_ACCEPT_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
    /** How often the re-driver looks for stalled and overdue checkouts. */
    CHECKOUT_REDRIVE_INTERVAL_MS: z.coerce.number().int().min(10).default(1000),
    /** A processing checkout without progress for this long has its request re-sent. */
    CHECKOUT_REDRIVE_AFTER_SECONDS: z.coerce.number().int().min(1).default(15),
    /** A checkout still processing this long after it was accepted fails with `timed_out`. */
    CHECKOUT_DEADLINE_SECONDS: z.coerce.number().int().min(1).default(120),
  })
  .refine((c) => c.CHECKOUT_DEADLINE_SECONDS > c.CHECKOUT_REDRIVE_AFTER_SECONDS, {
    path: ["CHECKOUT_DEADLINE_SECONDS"],
    message:
      "must be larger than CHECKOUT_REDRIVE_AFTER_SECONDS (a checkout is re-driven before it times out)",
  });

/** Production gives the database, the broker and the JWT key; every COD rule has a default. */
export const configSchema = requiredInProduction(checkoutConfigSchema, BASE_PRODUCTION_SETTINGS);

export type Config = z.infer<typeof configSchema>;
