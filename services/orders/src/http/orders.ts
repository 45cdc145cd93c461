import {
  auth,
  HttpProblem,
  problemContent,
  type ServiceApp,
  shippingAddressSchema,
} from "@codflow/shared";
import { createRoute, z } from "@hono/zod-openapi";
import type { AppDeps } from "../app.ts";
import { findCustomerOrder, listCustomerOrders, type OrderDetails } from "../db/read-orders.ts";
import { decodeCursor, encodeCursor } from "../domain/cursor.ts";
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

const orderSchema = z
  .object({
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
  })
  .openapi("Order");

const orderPageSchema = z
  .object({ items: z.array(orderSchema), nextCursor: z.string().nullable() })
  .openapi("OrderPage");

const authProblems = {
  401: problemContent("Missing or invalid token"),
  403: problemContent("Not a customer"),
};

export function registerOrderRoutes(app: ServiceApp, deps: AppDeps) {
  const customerOnly = auth({ verify: deps.verifyToken, roles: ["customer"] });

  const listOrders = createRoute({
    method: "get",
    path: "/v1/orders",
    summary: "The caller's orders, newest first",
    security: [{ bearer: [] }],
    middleware: [customerOnly] as const,
    request: {
      query: z.object({
        limit: z.coerce.number().int().min(1).max(100).default(20),
        cursor: z.string().max(200).optional(),
      }),
    },
    responses: {
      200: {
        description: "A page of orders",
        content: { "application/json": { schema: orderPageSchema } },
      },
      400: problemContent("Invalid limit or cursor"),
      ...authProblems,
    },
  });
  app.openapi(listOrders, async (c) => {
    const { limit, cursor: cursorText } = c.req.valid("query");
    const cursor = cursorText === undefined ? undefined : decodeCursor(cursorText);
    if (cursorText !== undefined && !cursor) {
      throw new HttpProblem(400, "validation-failed", "The request is not valid", "invalid query", [
        { path: "cursor", message: "not a cursor this API returned" },
      ]);
    }
    const page = await listCustomerOrders(deps.db, c.get("user").id, { limit, cursor });
    return c.json(
      {
        items: page.orders.map(toOrderJson),
        nextCursor: page.next ? encodeCursor(page.next) : null,
      },
      200,
    );
  });

  const getOrder = createRoute({
    method: "get",
    path: "/v1/orders/{id}",
    summary: "One of the caller's orders, with its items and status history",
    security: [{ bearer: [] }],
    middleware: [customerOnly] as const,
    request: { params: z.object({ id: z.uuid() }) },
    responses: {
      200: { description: "The order", content: { "application/json": { schema: orderSchema } } },
      400: problemContent("The id is not a uuid"),
      404: problemContent("No such order of the caller's"),
      ...authProblems,
    },
  });
  app.openapi(getOrder, async (c) => {
    const { id } = c.req.valid("param");
    const order = await findCustomerOrder(deps.db, c.get("user").id, id);
    if (!order) throw new HttpProblem(404, "not-found", "Order not found", `no order ${id}`);
    return c.json(toOrderJson(order), 200);
  });
}

function toOrderJson(order: OrderDetails): z.infer<typeof orderSchema> {
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
