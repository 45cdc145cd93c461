import { z } from "zod";
import { currency, money, reservedLineSchema } from "./common.ts";

export const vendorUpserted = z.object({
  vendorId: z.uuid(),
  name: z.string().min(1),
  slug: z.string().min(1),
  revision: z.number().int().nonnegative(),
});

/** Sellable = variant, product and vendor all active and the product not archived. */
export const variantUpserted = z.object({
  variantId: z.uuid(),
  productId: z.uuid(),
  productSlug: z.string().min(1),
  vendorId: z.uuid(),
  sku: z.string().min(1),
  title: z.string().min(1),
  priceMinor: money,
  currency,
  sellable: z.boolean(),
  revision: z.number().int().nonnegative(),
});

export const inventoryReserved = z.object({
  checkoutId: z.uuid(),
  reservationId: z.uuid(),
  expiresAt: z.iso.datetime({ offset: true }),
  customerId: z.string().min(1),
  lines: z.array(reservedLineSchema).min(1),
  totalMinor: money,
  currency,
});

export const rejectedLineSchema = z.object({
  variantId: z.uuid(),
  reason: z.enum(["out_of_stock", "product_unavailable", "price_changed"]),
  requestedQty: z.number().int().optional(),
  availableQty: z.number().int().optional(),
  expectedPriceMinor: money.optional(),
  currentPriceMinor: money.optional(),
});

export const inventoryRejected = z.object({
  checkoutId: z.uuid(),
  reason: z.enum(["out_of_stock", "product_unavailable", "price_changed"]),
  lines: z.array(rejectedLineSchema).min(1),
});

/** The reservation became a commitment for a live order: the saga's success signal. */
export const inventoryCommitted = z.object({
  checkoutId: z.uuid(),
  reservationId: z.uuid(),
  orderId: z.uuid(),
  orderNumber: z.string().min(1),
  customerId: z.string().min(1),
  items: z.array(reservedLineSchema).min(1),
  totalMinor: money,
  currency,
});

/** The sweeper released a reservation no order claimed in time. */
export const reservationExpired = z.object({
  checkoutId: z.uuid(),
  reservationId: z.uuid(),
  expiredAt: z.iso.datetime({ offset: true }),
});

export const inventoryEvents = {
  "inventory.vendor_upserted": { version: 1, schema: vendorUpserted },
  "inventory.variant_upserted": { version: 1, schema: variantUpserted },
  "inventory.reserved": { version: 1, schema: inventoryReserved },
  "inventory.rejected": { version: 1, schema: inventoryRejected },
  "inventory.committed": { version: 1, schema: inventoryCommitted },
  "inventory.reservation_expired": { version: 1, schema: reservationExpired },
} as const;
