import { baseConfigSchema } from "@codflow/shared";
import type { z } from "zod";

export const configSchema = baseConfigSchema("orders", 8083);

export type Config = z.infer<typeof configSchema>;
