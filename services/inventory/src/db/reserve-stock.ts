import type { TxSql } from "@codflow/shared";
import { v7 as uuidv7 } from "uuid";
import type { RequestedLine, VariantOnSale } from "../domain/reservation.ts";
import type { ReservationStatus } from "../domain/reservation-status.ts";
import type { DbTimestamp } from "./timestamps.ts";

export interface VariantForSale extends VariantOnSale {
  productSlug: string;
  productTitle: string;
  variantTitle: string | null;
  vendorId: string;
  sku: string;
}

/**
 * Claims the checkout: the unique checkout_id decides a race between two deliveries (the second
 * waits for the first to commit, then finds the row). Undefined when the checkout already has one.
 */
export async function insertReservation(
  sql: TxSql,
  { checkoutId, ttlSeconds }: { checkoutId: string; ttlSeconds: number },
) {
  const [reservation] = await sql<{ id: string; expiresAt: DbTimestamp }[]>`
    insert into reservations (id, checkout_id, status, expires_at)
    values (${uuidv7()}, ${checkoutId}, 'active', now() + make_interval(secs => ${ttlSeconds}))
    on conflict (checkout_id) do nothing
    returning id, expires_at as "expiresAt"`;
  return reservation;
}

/** The status of the checkout's reservation (a `void` one is the tombstone of an aborted checkout). */
export async function reservationStatusOf(sql: TxSql, checkoutId: string) {
  const [row] = await sql<{ status: ReservationStatus }[]>`
    select status from reservations where checkout_id = ${checkoutId}`;
  return row?.status;
}

/**
 * The variants of a checkout with what decides their sale, share-locked in id order so a price
 * or activity change waits until this reservation commits (and cannot slip in between).
 */
export async function lockVariantsForSale(sql: TxSql, variantIds: string[]) {
  const rows = await sql<VariantForSale[]>`
    select v.id as "variantId", v.price_minor as "priceMinor", v.currency, v.sku,
           v.title as "variantTitle", v.active as "variantActive",
           p.slug as "productSlug", p.title as "productTitle", p.vendor_id as "vendorId",
           p.active as "productActive", p.archived_at is not null as archived,
           vd.active as "vendorActive"
    from variants v
    join products p on p.id = v.product_id
    join vendors vd on vd.id = p.vendor_id
    where v.id = any(${variantIds}::uuid[])
    order by v.id
    for share of v`;
  return new Map(rows.map((row) => [row.variantId, row]));
}

/**
 * Reserves every line or reports which it could not: ONE conditional update takes `qty` from
 * each stock level that still has it free; only when every line was taken do the reservation
 * lines and `reserve` ledger rows get written (same statement). When fewer were taken, the
 * caller throws inside its savepoint, undoing the partial update. Returns the variants taken.
 */
export async function takeStock(
  sql: TxSql,
  { reservationId, checkoutId }: { reservationId: string; checkoutId: string },
  lines: RequestedLine[],
) {
  const rows = await sql<{ variantId: string }[]>`
    with wanted as (
      select * from unnest(${lines.map((l) => l.variantId)}::uuid[], ${lines.map((l) => l.qty)}::int[],
                           ${lines.map((l) => l.unitPriceMinor)}::int[])
             as w(variant_id, qty, unit_price_minor)
    ), taken as (
      update stock_levels s set reserved = s.reserved + w.qty
      from wanted w
      where s.variant_id = w.variant_id and s.on_hand - s.reserved - s.committed >= w.qty
      returning s.variant_id
    ), complete as (
      select w.* from wanted w where (select count(*) from taken) = ${lines.length}
    ), reservation_lines_written as (
      insert into reservation_lines (reservation_id, variant_id, qty, unit_price_minor)
      select ${reservationId}, variant_id, qty, unit_price_minor from complete
    ), ledger as (
      insert into stock_movements (variant_id, kind, reserved_delta, reservation_id, checkout_id)
      select variant_id, 'reserve', qty, ${reservationId}, ${checkoutId} from complete
    )
    select variant_id as "variantId" from taken`;
  return new Set(rows.map((r) => r.variantId));
}

/** Units free right now (on hand minus reserved minus committed), for the rejection details. */
export async function availableQty(sql: TxSql, variantIds: string[]) {
  const rows = await sql<{ variantId: string; available: number }[]>`
    select variant_id as "variantId", on_hand - reserved - committed as available
    from stock_levels where variant_id = any(${variantIds}::uuid[])`;
  return new Map(rows.map((r) => [r.variantId, r.available]));
}

/**
 * A checkout that already holds a reservation asks again (re-driven under a new event id): the
 * `inventory.reserved` it caused is published again (outputs are found by their causation id).
 */
export async function causesOfReserved(sql: TxSql, checkoutId: string) {
  const rows = await sql<{ causationId: string }[]>`
    select distinct causation_id as "causationId" from outbox
    where correlation_id = ${checkoutId} and type = 'inventory.reserved' and causation_id is not null`;
  return rows.map((r) => r.causationId);
}
