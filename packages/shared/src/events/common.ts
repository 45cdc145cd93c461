import { z } from "zod";

export const money = z.number().int().nonnegative();
export const currency = z.string().regex(/^[A-Z]{3}$/);

export const shippingAddressSchema = z.object({
  name: z.string().min(1).max(200),
  line1: z.string().min(1).max(200),
  line2: z.string().max(200).optional(),
  city: z.string().min(1).max(100),
  region: z.string().max(100).optional(),
  postalCode: z.string().min(1).max(20),
  country: z.string().regex(/^[A-Z]{2}$/, "ISO 3166-1 alpha-2 country code"),
});
export type ShippingAddress = z.infer<typeof shippingAddressSchema>;

/** A line as the customer saw it at checkout: the price is what inventory must still match. */
export const requestedLineSchema = z.object({
  variantId: z.uuid(),
  qty: z.number().int().min(1),
  unitPriceMinor: money,
  currency,
});

/** A line as inventory reserved it: the snapshot an order keeps forever. */
export const reservedLineSchema = z.object({
  variantId: z.uuid(),
  productSlug: z.string().min(1),
  vendorId: z.uuid(),
  sku: z.string().min(1),
  title: z.string().min(1),
  unitPriceMinor: money,
  qty: z.number().int().min(1),
});
export type ReservedLine = z.infer<typeof reservedLineSchema>;

export const failureReasonSchema = z.enum([
  "out_of_stock",
  "product_unavailable",
  "price_changed",
  "reservation_expired",
  "order_failed",
  "timed_out",
]);
export type FailureReason = z.infer<typeof failureReasonSchema>;
