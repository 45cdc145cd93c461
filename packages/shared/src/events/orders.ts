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

export const ordersEvents = {
  "orders.confirmed": { version: 1, schema: ordersConfirmed },
  "orders.failed": { version: 1, schema: ordersFailed },
} as const;
