import { z } from "zod";
import {
  currency,
  failureReasonSchema,
  money,
  requestedLineSchema,
  reservedLineSchema,
  shippingAddressSchema,
} from "./common.ts";

/**
 * The saga's first event: re-published as it is when a checkout is re-driven. It is the only
 * event that carries the phone and shipping address (PII minimum): orders keeps them for the
 * order; inventory ignores them.
 */
export const checkoutRequested = z.object({
  checkoutId: z.uuid(),
  customerId: z.string().min(1),
  customerEmail: z.email().nullable(),
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

/**
 * A one-time code for proving a phone number, for the notifier to send by SMS. The code is in
 * clear only here (checkout stores a hash): it is useless once `expiresAt` passes.
 */
export const phoneVerificationRequested = z.object({
  verificationId: z.uuid(),
  customerId: z.string().min(1),
  phone: z.string().min(1),
  code: z.string().regex(/^\d{6}$/),
  expiresAt: z.iso.datetime({ offset: true }),
});

export const checkoutEvents = {
  "checkout.requested": { version: 1, schema: checkoutRequested },
  "checkout.confirmed": { version: 1, schema: checkoutConfirmed },
  "checkout.failed": { version: 1, schema: checkoutFailed },
  "checkout.phone_verification_requested": { version: 1, schema: phoneVerificationRequested },
} as const;
