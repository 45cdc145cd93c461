import type { Db } from "@codflow/shared";
import { and, asc, desc, eq, inArray, type SQL, sql } from "drizzle-orm";
import type { PageCursor } from "../domain/cursor.ts";
import type { OrderStatus } from "../domain/order-status.ts";
import { deliveries, orderEvents, orderItems, orders } from "./schema.ts";

/** Postgres' own microsecond timestamp as ISO text: a JS Date would drop the microseconds. */
const createdAtText = sql<string>`to_char(${orders.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

const orderColumns = {
  id: orders.id,
  number: orders.number,
  checkoutId: orders.checkoutId,
  customerId: orders.customerId,
  status: orders.status,
  totalMinor: orders.totalMinor,
  currency: orders.currency,
  paymentMethod: orders.paymentMethod,
  shippingAddress: orders.shippingAddress,
  createdAt: orders.createdAt,
  createdAtText,
  courier: deliveries.courier,
  awb: deliveries.awb,
  attempts: deliveries.attempts,
  lastFailureReason: deliveries.lastFailureReason,
  cashCollectedMinor: deliveries.cashCollectedMinor,
  cashMismatch: deliveries.cashMismatch,
  deliveredBy: deliveries.deliveredBy,
  deliveredAt: deliveries.deliveredAt,
};

/** Orders matching `where`, newest first, after `cursor`: at most `limit`, plus whether more exist. */
async function listOrders(
  db: Db,
  where: SQL | undefined,
  { limit, cursor }: { limit: number; cursor?: PageCursor },
) {
  const rows = await db
    .select(orderColumns)
    .from(orders)
    .leftJoin(deliveries, eq(deliveries.orderId, orders.id))
    .where(
      and(
        where,
        cursor
          ? sql`(${orders.createdAt}, ${orders.id}) < (${cursor.createdAt}::timestamptz, ${cursor.id}::uuid)`
          : undefined,
      ),
    )
    .orderBy(desc(orders.createdAt), desc(orders.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    orders: await withDetails(db, page),
    next: rows.length > limit && last ? { createdAt: last.createdAtText, id: last.id } : undefined,
  };
}

/** A customer's orders, newest first. */
export const listCustomerOrders = (
  db: Db,
  customerId: string,
  page: { limit: number; cursor?: PageCursor },
) => listOrders(db, eq(orders.customerId, customerId), page);

/** Every customer's orders for ops, newest first, optionally only those in `status`. */
export const listAllOrders = (
  db: Db,
  status: OrderStatus | undefined,
  page: { limit: number; cursor?: PageCursor },
) => listOrders(db, status ? eq(orders.status, status) : undefined, page);

/**
 * The order with its items, history and delivery record; with `customerId`, only when it is
 * that customer's (undefined for another's, as for a missing one).
 */
export async function findOrder(db: Db, orderId: string, customerId?: string) {
  const rows = await db
    .select(orderColumns)
    .from(orders)
    .leftJoin(deliveries, eq(deliveries.orderId, orders.id))
    .where(and(eq(orders.id, orderId), customerId ? eq(orders.customerId, customerId) : undefined));
  const [order] = await withDetails(db, rows);
  return order;
}

/** The audit trail of an order, oldest first; empty when there is no such order. */
export function readAudit(db: Db, orderId: string) {
  return db
    .select({
      actor: orderEvents.actor,
      role: orderEvents.role,
      at: orderEvents.at,
      from: orderEvents.fromStatus,
      to: orderEvents.toStatus,
      data: orderEvents.data,
    })
    .from(orderEvents)
    .where(eq(orderEvents.orderId, orderId))
    .orderBy(asc(orderEvents.id));
}

/** Adds items and status history to a page of orders: two queries whatever the page size. */
async function withDetails<R extends { id: string }>(db: Db, rows: R[]) {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const [items, history] = await Promise.all([
    db
      .select()
      .from(orderItems)
      .where(inArray(orderItems.orderId, ids))
      .orderBy(asc(orderItems.orderId), asc(orderItems.lineNo)),
    db
      .select({ orderId: orderEvents.orderId, status: orderEvents.toStatus, at: orderEvents.at })
      .from(orderEvents)
      .where(inArray(orderEvents.orderId, ids))
      .orderBy(asc(orderEvents.id)),
  ]);
  return rows.map((row) => ({
    ...row,
    items: items.filter((i) => i.orderId === row.id),
    history: history.filter((h) => h.orderId === row.id),
  }));
}

export type OrderDetails = NonNullable<Awaited<ReturnType<typeof findOrder>>>;
