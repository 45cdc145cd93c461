import { baseConfigSchema } from "@codflow/shared";
import { z } from "zod";

export const configSchema = baseConfigSchema("inventory", 8082).extend({
  /** How long a reservation holds stock before the expiry sweeper may release it. */
  RESERVATION_TTL_SECONDS: z.coerce.number().int().min(1).default(900),
  /** How often the expiry sweeper looks for active reservations past their expiry. */
  RESERVATION_SWEEP_INTERVAL_MS: z.coerce.number().int().min(10).default(1000),
});

export type Config = z.infer<typeof configSchema>;
