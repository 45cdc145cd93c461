import { z } from "zod";
import { currency, money, reservedLineSchema } from "./common.ts";

export const ordersConfirmed = z.object({
  orderId: z.uuid(),
  orderNumber: z.string().min(1),
  checkoutId: z.uuid(),
  reservationId: z.uuid(),
  customerId: z.string().min(1),
  items: z.array(reservedLineSchema).min(1),
  totalMinor: money,
  currency,
});

export const ordersFailed = z.object({
  checkoutId: z.uuid(),
  reservationId: z.uuid(),
  customerId: z.string().min(1),
  detail: z.string(),
});

/** A confirmed order was cancelled (its checkout failed, or later a customer or ops cancel). */
export const ordersCancelled = z.object({
  orderId: z.uuid(),
  checkoutId: z.uuid(),
  reservationId: z.uuid(),
  customerId: z.string().min(1),
  reason: z.string().min(1),
});

export const ordersEvents = {
  "orders.confirmed": { version: 1, schema: ordersConfirmed },
  "orders.failed": { version: 1, schema: ordersFailed },
  "orders.cancelled": { version: 1, schema: ordersCancelled },
} as const;
