import type { Sql, TxSql } from "@codflow/shared";
import type { RejectedLine } from "../domain/failure-summary.ts";
import type { CheckoutStatus } from "./schema.ts";

/** A checkout as the customer sees it (GET, Prefer: wait, SSE). */
export interface CheckoutView {
  id: string;
  status: CheckoutStatus;
  orderId?: string;
  orderNumber?: string;
  failure?: { reason: string; detail: string; lines?: RejectedLine[] };
  totalMinor: number;
  currency: string;
  createdAt: string;
  updatedAt: string;
}

interface CheckoutRow {
  id: string;
  status: CheckoutStatus;
  orderId: string | null;
  orderNumber: string | null;
  failureReason: string | null;
  failureDetail: string | null;
  failureLines: RejectedLine[] | null;
  totalMinor: number;
  currency: string;
  createdAt: Date | string;
  updatedAt: Date | string;
}

/**
 * drizzle, sharing this postgres.js client, turns its timestamp parsers off: timestamps come
 * back as Postgres text ("2026-01-02 03:04:05.678+00"), or as Dates without drizzle.
 */
const toIso = (value: Date | string) => new Date(value).toISOString();

const toView = (row: CheckoutRow): CheckoutView => ({
  id: row.id,
  status: row.status,
  ...(row.orderId ? { orderId: row.orderId } : {}),
  ...(row.orderNumber ? { orderNumber: row.orderNumber } : {}),
  ...(row.failureReason
    ? {
        failure: {
          reason: row.failureReason,
          detail: row.failureDetail ?? "",
          ...(row.failureLines ? { lines: row.failureLines } : {}),
        },
      }
    : {}),
  totalMinor: row.totalMinor,
  currency: row.currency,
  createdAt: toIso(row.createdAt),
  updatedAt: toIso(row.updatedAt),
});

export async function findOwnCheckout(sql: Sql | TxSql, id: string, customerId: string) {
  const [row] = await sql<CheckoutRow[]>`
    select id, status, order_id as "orderId", order_number as "orderNumber",
           failure_reason as "failureReason", failure_detail as "failureDetail",
           failure_lines as "failureLines",
           total_minor as "totalMinor", currency, created_at as "createdAt", updated_at as "updatedAt"
    from checkouts where id = ${id} and customer_id = ${customerId}`;
  return row && toView(row);
}

/** Many checkouts in one round trip: what the status watch re-reads. */
export async function loadCheckoutViews(sql: Sql | TxSql, ids: string[]) {
  const rows = await sql<CheckoutRow[]>`
    select id, status, order_id as "orderId", order_number as "orderNumber",
           failure_reason as "failureReason", failure_detail as "failureDetail",
           failure_lines as "failureLines",
           total_minor as "totalMinor", currency, created_at as "createdAt", updated_at as "updatedAt"
    from checkouts where id = any(${ids}::uuid[])`;
  return new Map(rows.map((row) => [row.id, toView(row)]));
}
