import { BASE_PRODUCTION_SETTINGS, baseConfigSchema, requiredInProduction } from "@codflow/shared";
import { z } from "zod";

/** Production gives the database, the broker and the JWT key. */
export const configSchema = requiredInProduction(
  baseConfigSchema("inventory", 8082).extend({
    /** How long a reservation holds stock before the expiry sweeper may release it. */
    RESERVATION_TTL_SECONDS: z.coerce.number().int().min(1).default(900),
    /** How often the expiry sweeper looks for active reservations past their expiry. */
    RESERVATION_SWEEP_INTERVAL_MS: z.coerce.number().int().min(10).default(1000),
  }),
  BASE_PRODUCTION_SETTINGS,
);

export type Config = z.infer<typeof configSchema>;
