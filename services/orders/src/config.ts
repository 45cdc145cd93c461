import { baseConfigSchema } from "@codflow/shared";
import { z } from "zod";

export const configSchema = baseConfigSchema("orders", 8083).extend({
  /** Failed deliveries after which an order may only go back to the vendor (rto_initiated). */
  MAX_DELIVERY_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(3),
});

export type Config = z.infer<typeof configSchema>;
