import type { z } from "zod";
import { checkoutEvents } from "./checkout.ts";
import type { Envelope } from "./envelope.ts";
import { inventoryEvents } from "./inventory.ts";
import { ordersEvents } from "./orders.ts";

export * from "./checkout.ts";
export * from "./common.ts";
export * from "./envelope.ts";
export * from "./inventory.ts";
export * from "./orders.ts";

/** Every event type the flow uses, its current version and its schema: one table. */
export const eventCatalog = { ...checkoutEvents, ...inventoryEvents, ...ordersEvents } as const;

export type EventType = keyof typeof eventCatalog;
export type EventData<T extends EventType> = z.infer<(typeof eventCatalog)[T]["schema"]>;
export type EventOf<T extends EventType> = Envelope<T, EventData<T>>;

/** The bounded context that owns an event type: the part before the first dot. */
export const contextOf = (type: string) => type.slice(0, type.indexOf("."));
