import { auth, HttpProblem, problemContent, type ServiceApp } from "@codflow/shared";
import { createRoute, z } from "@hono/zod-openapi";
import type { AppDeps } from "../app.ts";
import { findOrder, listCustomerOrders } from "../db/read-orders.ts";
import { encodeCursor } from "../domain/cursor.ts";
import { type MoveOrderDeps, moveOrder } from "../move-order.ts";
import { orderPageSchema, orderSchema, toOrderJson } from "./order-json.ts";
import { pageQuery, readCursor } from "./page.ts";

const authProblems = {
  401: problemContent("Missing or invalid token"),
  403: problemContent("Not a customer"),
};

/** The customer's own orders: list, read, cancel while confirmed. */
export function registerOrderRoutes(app: ServiceApp, deps: AppDeps, moves: MoveOrderDeps) {
  const customerOnly = auth({ verify: deps.verifyToken, roles: ["customer"] });

  const listOrders = createRoute({
    method: "get",
    path: "/v1/orders",
    summary: "The caller's orders, newest first",
    security: [{ bearer: [] }],
    middleware: [customerOnly] as const,
    request: { query: z.object(pageQuery) },
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
    const { limit, cursor } = c.req.valid("query");
    const page = await listCustomerOrders(deps.db, c.get("user").id, {
      limit,
      cursor: readCursor(cursor),
    });
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
    summary: "One of the caller's orders, with its items, delivery and status history",
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
    const order = await findOrder(deps.db, id, c.get("user").id);
    if (!order) throw new HttpProblem(404, "not-found", "Order not found", `no order ${id}`);
    return c.json(toOrderJson(order), 200);
  });

  const cancelOrder = createRoute({
    method: "post",
    path: "/v1/orders/{id}/cancel",
    summary: "Cancel one of the caller's orders while it is still confirmed (not shipped)",
    security: [{ bearer: [] }],
    middleware: [customerOnly] as const,
    request: { params: z.object({ id: z.uuid() }) },
    responses: {
      200: {
        description: "The cancelled order",
        content: { "application/json": { schema: orderSchema } },
      },
      400: problemContent("The id is not a uuid"),
      404: problemContent("No such order of the caller's"),
      409: problemContent("illegal-transition: the order is no longer confirmed"),
      ...authProblems,
    },
  });
  app.openapi(cancelOrder, async (c) => {
    const { id } = c.req.valid("param");
    const user = c.get("user");
    await moveOrder(moves, {
      orderId: id,
      ownerId: user.id,
      actor: { id: user.id, role: user.role },
      request: { to: "cancelled", reason: "cancelled by the customer" },
    });
    const order = await findOrder(deps.db, id, user.id);
    if (!order) throw new Error(`order ${id} vanished after its cancellation`);
    return c.json(toOrderJson(order), 200);
  });
}
