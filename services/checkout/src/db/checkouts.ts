import type { ShippingAddress, Sql, TxSql } from "@codflow/shared";
import type { PricedCartLine } from "../domain/cart.ts";
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

export type KeyClaim =
  | { kind: "claimed" }
  | { kind: "replay"; checkoutId: string; status: CheckoutStatus }
  | { kind: "reused" }
  | { kind: "in-progress" };

/**
 * Binds `key` to `checkoutId` for this customer, or tells who holds it. A concurrent request
 * with the same key waits on the primary key until the holder commits (then it is a replay
 * or a reuse) or rolls back (then it claims the key itself): the database decides the race.
 */
export async function claimIdempotencyKey(
  tx: TxSql,
  k: { customerId: string; key: string; requestHash: string; checkoutId: string },
): Promise<KeyClaim> {
  const claimed = await tx`
    insert into idempotency_keys (customer_id, key, request_hash, checkout_id)
    values (${k.customerId}, ${k.key}, ${k.requestHash}, ${k.checkoutId})
    on conflict do nothing
    returning 1`;
  if (claimed.length > 0) return { kind: "claimed" };
  const [held] = await tx<{ requestHash: string; checkoutId: string; status: CheckoutStatus }[]>`
    select k.request_hash as "requestHash", k.checkout_id as "checkoutId", c.status
    from idempotency_keys k join checkouts c on c.id = k.checkout_id
    where k.customer_id = ${k.customerId} and k.key = ${k.key}`;
  if (!held) return { kind: "in-progress" };
  if (held.requestHash !== k.requestHash) return { kind: "reused" };
  return { kind: "replay", checkoutId: held.checkoutId, status: held.status };
}

export interface NewCheckout {
  id: string;
  customerId: string;
  customerEmail: string | null;
  cartId: string;
  totalMinor: number;
  currency: string;
  phone: string;
  shippingAddress: ShippingAddress;
  lines: PricedCartLine[];
}

/**
 * Inserts the checkout `processing` with its line snapshot in one statement. Returns false when
 * this cart already has a checkout processing (the partial unique index said so); the caller
 * must then end the transaction, which the failed statement has aborted.
 */
export async function insertCheckout(tx: TxSql, c: NewCheckout): Promise<boolean> {
  try {
    await tx`
      with checkout as (
        insert into checkouts (id, customer_id, customer_email, cart_id, status, total_minor,
                               currency, phone, shipping_address)
        values (${c.id}, ${c.customerId}, ${c.customerEmail}, ${c.cartId}, 'processing',
                ${c.totalMinor}, ${c.currency}, ${c.phone}, ${JSON.stringify(c.shippingAddress)}::jsonb)
        returning id
      )
      insert into checkout_lines (checkout_id, cart_line_id, variant_id, qty, unit_price_minor, currency)
      select checkout.id, l.cart_line_id, l.variant_id, l.qty, l.unit_price_minor, l.currency
      from checkout, unnest(
        ${c.lines.map((l) => l.id)}::uuid[],
        ${c.lines.map((l) => l.variantId)}::uuid[],
        ${c.lines.map((l) => l.qty)}::int[],
        ${c.lines.map((l) => l.unitPriceMinor)}::int[],
        ${c.lines.map((l) => l.currency)}::text[]
      ) as l(cart_line_id, variant_id, qty, unit_price_minor, currency)`;
    return true;
  } catch (err) {
    if (isUniqueViolation(err, "checkouts_one_processing_per_cart")) return false;
    throw err;
  }
}

const isUniqueViolation = (err: unknown, constraint: string) =>
  (err as { code?: string }).code === "23505" &&
  (err as { constraint_name?: string }).constraint_name === constraint;
