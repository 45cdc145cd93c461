import type { Db } from "@codflow/shared";
import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import type { PageCursor } from "../domain/cursor.ts";
import { orderEvents, orderItems, orders } from "./schema.ts";

/** Postgres' own microsecond timestamp as ISO text: a JS Date would drop the microseconds. */
const createdAtText = sql<string>`to_char(${orders.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

const orderColumns = {
  id: orders.id,
  number: orders.number,
  checkoutId: orders.checkoutId,
  status: orders.status,
  totalMinor: orders.totalMinor,
  currency: orders.currency,
  paymentMethod: orders.paymentMethod,
  shippingAddress: orders.shippingAddress,
  createdAt: orders.createdAt,
  createdAtText,
};

/** A customer's orders, newest first, after `cursor`: at most `limit`, plus whether more exist. */
export async function listCustomerOrders(
  db: Db,
  customerId: string,
  { limit, cursor }: { limit: number; cursor?: PageCursor },
) {
  const rows = await db
    .select(orderColumns)
    .from(orders)
    .where(
      and(
        eq(orders.customerId, customerId),
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

/** The customer's own order, or undefined when it does not exist or belongs to someone else. */
export async function findCustomerOrder(db: Db, customerId: string, orderId: string) {
  const rows = await db
    .select(orderColumns)
    .from(orders)
    .where(and(eq(orders.id, orderId), eq(orders.customerId, customerId)));
  const [order] = await withDetails(db, rows);
  return order;
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

export type OrderDetails = NonNullable<Awaited<ReturnType<typeof findCustomerOrder>>>;
