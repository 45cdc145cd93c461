import { z } from "zod";

/** Every event on the wire: `{id, type, version, occurredAt, correlationId, causationId, data}`. */
export const envelopeSchema = z.object({
  id: z.uuid(),
  type: z.string().min(1),
  version: z.number().int().positive(),
  occurredAt: z.iso.datetime({ offset: true }),
  correlationId: z.string().min(1),
  causationId: z.string().nullable(),
  data: z.unknown(),
});

export type RawEnvelope = z.infer<typeof envelopeSchema>;

export interface Envelope<T extends string = string, D = unknown> {
  id: string;
  type: T;
  version: number;
  occurredAt: string;
  correlationId: string;
  causationId: string | null;
  data: D;
}
