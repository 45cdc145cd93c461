import { auth, HttpProblem, problemContent, type ServiceApp } from "@codflow/shared";
import { createRoute, z } from "@hono/zod-openapi";
import type { AppDeps } from "../app.ts";
import { findOrder, listAllOrders, readAudit } from "../db/read-orders.ts";
import { encodeCursor } from "../domain/cursor.ts";
import { ORDER_STATUSES } from "../domain/order-status.ts";
import { type MoveOrderDeps, moveOrder } from "../move-order.ts";
import { adminOrderPageSchema, adminOrderSchema, toAdminOrderJson } from "./order-json.ts";
import { pageQuery, readCursor } from "./page.ts";

const authProblems = {
  401: problemContent("Missing or invalid token"),
  403: problemContent("Role not allowed"),
};
const idParams = z.object({ id: z.uuid() });

const transitionSchema = z
  .object({
    to: z.enum(ORDER_STATUSES).exclude(["confirmed"]),
    reason: z.string().min(1).max(500).optional().openapi({
      description:
        "delivery_failed: customer_unavailable | customer_refused | address_issue | cash_not_ready | rescheduled_by_customer | other; free text otherwise",
    }),
    cashCollectedMinor: z
      .number()
      .int()
      .min(0)
      .max(Number.MAX_SAFE_INTEGER)
      .optional()
      .openapi({ description: "delivered: the cash the courier collected, in minor units" }),
    courier: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .openapi({ description: "shipped: who carries it" }),
    awb: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .openapi({ description: "shipped: the courier's waybill number, unique per courier" }),
  })
  .openapi("OrderTransition");

const auditRowSchema = z
  .object({
    actor: z.string().openapi({ description: "The JWT subject, or system" }),
    role: z.string(),
    at: z.iso.datetime(),
    from: z.enum(ORDER_STATUSES).nullable(),
    to: z.enum(ORDER_STATUSES),
    data: z.record(z.string(), z.unknown()),
  })
  .openapi("OrderAuditRow");

/** Ops: every order by status, one order, its audit trail, and the lifecycle moves. */
export function registerAdminOrderRoutes(app: ServiceApp, deps: AppDeps, moves: MoveOrderDeps) {
  const adminOnly = auth({ verify: deps.verifyToken, roles: ["admin"] });
  const opsOnly = auth({ verify: deps.verifyToken, roles: ["admin", "courier"] });

  const listOrders = createRoute({
    method: "get",
    path: "/v1/admin/orders",
    summary: "Every customer's orders, newest first, optionally in one status",
    security: [{ bearer: [] }],
    middleware: [adminOnly] as const,
    request: { query: z.object({ ...pageQuery, status: z.enum(ORDER_STATUSES).optional() }) },
    responses: {
      200: {
        description: "A page of orders",
        content: { "application/json": { schema: adminOrderPageSchema } },
      },
      400: problemContent("Invalid status, limit or cursor"),
      ...authProblems,
    },
  });
  app.openapi(listOrders, async (c) => {
    const { limit, cursor, status } = c.req.valid("query");
    const page = await listAllOrders(deps.db, status, { limit, cursor: readCursor(cursor) });
    return c.json(
      {
        items: page.orders.map(toAdminOrderJson),
        nextCursor: page.next ? encodeCursor(page.next) : null,
      },
      200,
    );
  });

  const getOrder = createRoute({
    method: "get",
    path: "/v1/admin/orders/{id}",
    summary: "One order with its delivery and cash record",
    security: [{ bearer: [] }],
    middleware: [adminOnly] as const,
    request: { params: idParams },
    responses: {
      200: {
        description: "The order",
        content: { "application/json": { schema: adminOrderSchema } },
      },
      400: problemContent("The id is not a uuid"),
      404: problemContent("No such order"),
      ...authProblems,
    },
  });
  app.openapi(getOrder, async (c) => {
    const { id } = c.req.valid("param");
    const order = await findOrder(deps.db, id);
    if (!order) throw new HttpProblem(404, "not-found", "Order not found", `no order ${id}`);
    return c.json(toAdminOrderJson(order), 200);
  });

  const audit = createRoute({
    method: "get",
    path: "/v1/admin/orders/{id}/audit",
    summary: "The order's append-only audit trail, oldest first",
    security: [{ bearer: [] }],
    middleware: [adminOnly] as const,
    request: { params: idParams },
    responses: {
      200: {
        description: "Every status change: who, which role, when, from, to, with what data",
        content: {
          "application/json": { schema: z.object({ items: z.array(auditRowSchema) }) },
        },
      },
      400: problemContent("The id is not a uuid"),
      404: problemContent("No such order"),
      ...authProblems,
    },
  });
  app.openapi(audit, async (c) => {
    const { id } = c.req.valid("param");
    const rows = await readAudit(deps.db, id);
    if (rows.length === 0)
      throw new HttpProblem(404, "not-found", "Order not found", `no order ${id}`);
    return c.json({ items: rows.map((r) => ({ ...r, at: r.at.toISOString() })) }, 200);
  });

  const transition = createRoute({
    method: "post",
    path: "/v1/admin/orders/{id}/transitions",
    summary: "Move an order along the delivery lifecycle (admin, or courier for delivery runs)",
    security: [{ bearer: [] }],
    middleware: [opsOnly] as const,
    request: {
      params: idParams,
      body: { required: true, content: { "application/json": { schema: transitionSchema } } },
    },
    responses: {
      200: {
        description: "The moved order",
        content: { "application/json": { schema: adminOrderSchema } },
      },
      400: problemContent("Invalid body"),
      404: problemContent("No such order"),
      409: problemContent("illegal-transition, or awb-already-used"),
      422: problemContent("The move lacks data it requires (field errors)"),
      ...authProblems,
    },
  });
  app.openapi(transition, async (c) => {
    const { id } = c.req.valid("param");
    const user = c.get("user");
    await moveOrder(moves, {
      orderId: id,
      actor: { id: user.id, role: user.role },
      request: c.req.valid("json"),
    });
    const order = await findOrder(deps.db, id);
    if (!order) throw new Error(`order ${id} vanished after a transition`);
    return c.json(toAdminOrderJson(order), 200);
  });
}
