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

/** Who moved an order: a JWT role, or `system` for the saga's own compensation. */
export const actorRoleSchema = z.enum(["customer", "admin", "courier", "system"]);
export type ActorRole = z.infer<typeof actorRoleSchema>;

export const deliveryFailureReasonSchema = z.enum([
  "customer_unavailable",
  "customer_refused",
  "address_issue",
  "cash_not_ready",
  "rescheduled_by_customer",
  "other",
]);
export type DeliveryFailureReason = z.infer<typeof deliveryFailureReasonSchema>;

/**
 * What every delivery-lifecycle event carries: enough to address the customer (notifier) and
 * to find the saga (checkout's active-order slot, inventory's reservation). Nothing more.
 */
const lifecycle = z.object({
  orderId: z.uuid(),
  orderNumber: z.string().min(1),
  checkoutId: z.uuid(),
  reservationId: z.uuid(),
  customerId: z.string().min(1),
  customerEmail: z.email().nullable(),
  actorRole: actorRoleSchema,
  at: z.iso.datetime({ offset: true }),
});

/** A confirmed order was cancelled: by the saga (its checkout failed), the customer or ops. */
export const ordersCancelled = lifecycle.extend({ reason: z.string().min(1) });

export const ordersShipped = lifecycle.extend({
  courier: z.string().min(1),
  awb: z.string().min(1),
});

export const ordersOutForDelivery = lifecycle.extend({ attempt: z.number().int().min(1) });

/** `cashMismatch`: the cash collected differs from the order total (accepted, flagged). */
export const ordersDelivered = lifecycle.extend({
  cashCollectedMinor: money,
  totalMinor: money,
  currency,
  cashMismatch: z.boolean(),
});

export const ordersDeliveryFailed = lifecycle.extend({
  reason: deliveryFailureReasonSchema,
  attempt: z.number().int().min(1),
});

export const ordersRtoInitiated = lifecycle;

/** The parcel is back at the vendor: inventory restocks what the order had committed. */
export const ordersReturned = lifecycle;

export const ordersEvents = {
  "orders.confirmed": { version: 1, schema: ordersConfirmed },
  "orders.failed": { version: 1, schema: ordersFailed },
  "orders.cancelled": { version: 1, schema: ordersCancelled },
  "orders.shipped": { version: 1, schema: ordersShipped },
  "orders.out_for_delivery": { version: 1, schema: ordersOutForDelivery },
  "orders.delivered": { version: 1, schema: ordersDelivered },
  "orders.delivery_failed": { version: 1, schema: ordersDeliveryFailed },
  "orders.rto_initiated": { version: 1, schema: ordersRtoInitiated },
  "orders.returned": { version: 1, schema: ordersReturned },
} as const;
