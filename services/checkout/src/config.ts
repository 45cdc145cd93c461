import { baseConfigSchema } from "@codflow/shared";
import { z } from "zod";

export const configSchema = baseConfigSchema("checkout", 8081).extend({
  /** The largest COD order total, in minor units of the (single) market currency. */
  COD_MAX_ORDER_MINOR: z.coerce.number().int().positive().default(50_000_00),
});

export type Config = z.infer<typeof configSchema>;
