import { BASE_PRODUCTION_SETTINGS, baseConfigSchema, requiredInProduction } from "@codflow/shared";
import { z } from "zod";

/** Production gives the database, the broker and the JWT key. */
export const configSchema = requiredInProduction(
  baseConfigSchema("orders", 8083).extend({
    /** Failed deliveries after which an order may only go back to the vendor (rto_initiated). */
    MAX_DELIVERY_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(3),
  }),
  BASE_PRODUCTION_SETTINGS,
);

export type Config = z.infer<typeof configSchema>;
