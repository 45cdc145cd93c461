import { deliveryFailureReasonSchema, shippingAddressSchema } from "@codflow/shared";
import { z } from "@hono/zod-openapi";
import type { OrderDetails } from "../db/read-orders.ts";
import { ORDER_STATUSES } from "../domain/order-status.ts";

const orderItemSchema = z.object({
  variantId: z.uuid(),
  productSlug: z.string(),
  vendorId: z.uuid(),
  sku: z.string(),
  title: z.string(),
  qty: z.number().int(),
  unitPriceMinor: z.number().int(),
});

const deliverySchema = z
  .object({
    courier: z.string(),
    awb: z.string().openapi({ description: "The courier's waybill number" }),
    attempts: z.number().int().openapi({ description: "Failed delivery attempts so far" }),
    lastFailureReason: deliveryFailureReasonSchema.nullable(),
  })
  .openapi("Delivery");

const orderFields = {
  id: z.uuid(),
  number: z.string().openapi({ example: "CF-000042" }),
  checkoutId: z.uuid(),
  status: z.enum(ORDER_STATUSES),
  totalMinor: z.number().int(),
  currency: z.string().openapi({ example: "EUR" }),
  paymentMethod: z.literal("cod"),
  shippingAddress: shippingAddressSchema,
  items: z.array(orderItemSchema),
  history: z.array(z.object({ status: z.enum(ORDER_STATUSES), at: z.iso.datetime() })),
  createdAt: z.iso.datetime(),
};

export const orderSchema = z
  .object({
    ...orderFields,
    delivery: deliverySchema.nullable().openapi({ description: "Null until shipped" }),
  })
  .openapi("Order");

/** What ops see besides what the customer sees: whose order, and the cash record. */
export const adminOrderSchema = z
  .object({
    ...orderFields,
    customerId: z.string(),
    delivery: deliverySchema
      .extend({
        cashCollectedMinor: z.number().int().nullable(),
        cashMismatch: z
          .boolean()
          .nullable()
          .openapi({ description: "The cash collected differs from the order total" }),
        deliveredBy: z.string().nullable().openapi({ description: "Who handed it over" }),
        deliveredAt: z.iso.datetime().nullable(),
      })
      .nullable(),
  })
  .openapi("AdminOrder");

export const orderPageSchema = z
  .object({ items: z.array(orderSchema), nextCursor: z.string().nullable() })
  .openapi("OrderPage");

export const adminOrderPageSchema = z
  .object({ items: z.array(adminOrderSchema), nextCursor: z.string().nullable() })
  .openapi("AdminOrderPage");

function commonJson(order: OrderDetails) {
  return {
    id: order.id,
    number: order.number,
    checkoutId: order.checkoutId,
    status: order.status,
    totalMinor: order.totalMinor,
    currency: order.currency,
    paymentMethod: order.paymentMethod,
    shippingAddress: order.shippingAddress,
    items: order.items.map((item) => ({
      variantId: item.variantId,
      productSlug: item.productSlug,
      vendorId: item.vendorId,
      sku: item.sku,
      title: item.title,
      qty: item.qty,
      unitPriceMinor: item.unitPriceMinor,
    })),
    history: order.history.map((h) => ({ status: h.status, at: h.at.toISOString() })),
    createdAt: order.createdAt.toISOString(),
  };
}

function deliveryJson(order: OrderDetails) {
  if (order.courier === null || order.awb === null) return null;
  return {
    courier: order.courier,
    awb: order.awb,
    attempts: order.attempts ?? 0,
    lastFailureReason: deliveryFailureReasonSchema.nullable().parse(order.lastFailureReason),
  };
}

export function toOrderJson(order: OrderDetails): z.infer<typeof orderSchema> {
  return { ...commonJson(order), delivery: deliveryJson(order) };
}

export function toAdminOrderJson(order: OrderDetails): z.infer<typeof adminOrderSchema> {
  const delivery = deliveryJson(order);
  return {
    ...commonJson(order),
    customerId: order.customerId,
    delivery: delivery && {
      ...delivery,
      cashCollectedMinor: order.cashCollectedMinor,
      cashMismatch: order.cashMismatch,
      deliveredBy: order.deliveredBy,
      deliveredAt: order.deliveredAt?.toISOString() ?? null,
    },
  };
}
