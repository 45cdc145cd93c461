import { z } from "zod";
import {
  currency,
  failureReasonSchema,
  money,
  requestedLineSchema,
  reservedLineSchema,
  shippingAddressSchema,
} from "./common.ts";

/** The saga's first event: re-published as it is when a checkout is re-driven. */
export const checkoutRequested = z.object({
  checkoutId: z.uuid(),
  customerId: z.string().min(1),
  lines: z.array(requestedLineSchema).min(1),
  totalMinor: money,
  currency,
  phone: z.string().min(1),
  shippingAddress: shippingAddressSchema,
});

export const checkoutConfirmed = z.object({
  checkoutId: z.uuid(),
  customerId: z.string().min(1),
  customerEmail: z.email().nullable(),
  orderId: z.uuid(),
  orderNumber: z.string().min(1),
  items: z.array(reservedLineSchema).min(1),
  totalMinor: money,
  currency,
});

export const checkoutFailed = z.object({
  checkoutId: z.uuid(),
  customerId: z.string().min(1),
  customerEmail: z.email().nullable(),
  reason: failureReasonSchema,
  detail: z.string(),
});

export const checkoutEvents = {
  "checkout.requested": { version: 1, schema: checkoutRequested },
  "checkout.confirmed": { version: 1, schema: checkoutConfirmed },
  "checkout.failed": { version: 1, schema: checkoutFailed },
} as const;
