import { baseConfigSchema } from "@codflow/shared";
import { z } from "zod";

export const configSchema = baseConfigSchema("checkout", 8081)
  .extend({
    /** The largest COD order total, in minor units of the (single) market currency. */
    COD_MAX_ORDER_MINOR: z.coerce.number().int().positive().default(50_000_00),
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

export type Config = z.infer<typeof configSchema>;
