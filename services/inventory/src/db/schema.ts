import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  char,
  check,
  index,
  integer,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from "drizzle-orm/pg-core";

export { inbox, outbox } from "@codflow/shared";

const createdAt = () => timestamp("created_at", { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp("updated_at", { withTimezone: true }).notNull().defaultNow();
/** Bumped by every change a replica must learn about; events carry it so replicas drop older ones. */
const revision = () => bigint("revision", { mode: "number" }).notNull().default(1);

export const vendors = pgTable("vendors", {
  id: uuid("id").primaryKey(),
  name: text("name").notNull(),
  slug: text("slug").notNull().unique(),
  active: boolean("active").notNull().default(true),
  revision: revision(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const products = pgTable(
  "products",
  {
    id: uuid("id").primaryKey(),
    vendorId: uuid("vendor_id")
      .notNull()
      .references(() => vendors.id),
    slug: text("slug").notNull().unique(),
    title: text("title").notNull(),
    active: boolean("active").notNull().default(true),
    archivedAt: timestamp("archived_at", { withTimezone: true }),
    revision: revision(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index("products_vendor_id_idx").on(t.vendorId)],
);

export const variants = pgTable(
  "variants",
  {
    id: uuid("id").primaryKey(),
    productId: uuid("product_id")
      .notNull()
      .references(() => products.id),
    sku: text("sku").notNull().unique(),
    title: text("title"),
    priceMinor: integer("price_minor").notNull(),
    currency: char("currency", { length: 3 }).notNull(),
    active: boolean("active").notNull().default(true),
    revision: revision(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index("variants_product_id_idx").on(t.productId),
    check("variants_price_minor_nonnegative", sql`${t.priceMinor} >= 0`),
  ],
);

/** One row per variant; the CHECKs make the database itself refuse to oversell. */
export const stockLevels = pgTable(
  "stock_levels",
  {
    variantId: uuid("variant_id")
      .primaryKey()
      .references(() => variants.id),
    onHand: integer("on_hand").notNull().default(0),
    reserved: integer("reserved").notNull().default(0),
    committed: integer("committed").notNull().default(0),
  },
  (t) => [
    check("stock_levels_on_hand_nonnegative", sql`${t.onHand} >= 0`),
    check("stock_levels_reserved_nonnegative", sql`${t.reserved} >= 0`),
    check("stock_levels_committed_nonnegative", sql`${t.committed} >= 0`),
    check("stock_levels_not_oversold", sql`${t.onHand} >= ${t.reserved} + ${t.committed}`),
  ],
);

/** The lifecycle (allowed moves) is RESERVATION_TRANSITIONS in domain/reservation-status.ts. */
export const reservationStatus = pgEnum("reservation_status", [
  "active",
  "committed",
  "released",
  "expired",
  "void",
  "cancelled",
  "returned",
]);

export const reservations = pgTable(
  "reservations",
  {
    id: uuid("id").primaryKey(),
    checkoutId: uuid("checkout_id").notNull().unique(),
    status: reservationStatus("status").notNull().default("active"),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index("reservations_active_expires_at_idx").on(t.expiresAt).where(sql`${t.status} = 'active'`),
  ],
);

export const reservationLines = pgTable(
  "reservation_lines",
  {
    reservationId: uuid("reservation_id")
      .notNull()
      .references(() => reservations.id),
    variantId: uuid("variant_id")
      .notNull()
      .references(() => variants.id),
    qty: integer("qty").notNull(),
    unitPriceMinor: integer("unit_price_minor").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.reservationId, t.variantId] }),
    check("reservation_lines_qty_positive", sql`${t.qty} > 0`),
  ],
);

export const stockMovementKind = pgEnum("stock_movement_kind", [
  "adjust",
  "reserve",
  "commit",
  "release",
  "expire",
  "restock",
]);

/**
 * Append-only ledger (a trigger refuses UPDATE, DELETE and TRUNCATE): for every variant the
 * sums of the deltas equal its stock_levels row.
 */
export const stockMovements = pgTable(
  "stock_movements",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    variantId: uuid("variant_id")
      .notNull()
      .references(() => variants.id),
    kind: stockMovementKind("kind").notNull(),
    onHandDelta: integer("on_hand_delta").notNull().default(0),
    reservedDelta: integer("reserved_delta").notNull().default(0),
    committedDelta: integer("committed_delta").notNull().default(0),
    reservationId: uuid("reservation_id").references(() => reservations.id),
    checkoutId: uuid("checkout_id"),
    createdAt: createdAt(),
  },
  (t) => [
    index("stock_movements_variant_id_idx").on(t.variantId),
    index("stock_movements_reservation_id_idx").on(t.reservationId),
  ],
);
