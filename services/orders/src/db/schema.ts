import type { ShippingAddress } from "@codflow/shared";
import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgSequence,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from "drizzle-orm/pg-core";
import { ORDER_STATUSES } from "../domain/order-status.ts";

export { inbox, outbox } from "@codflow/shared";

/** Replica of inventory's vendors, fed by `inventory.vendor_upserted`; newer revisions win. */
export const vendors = pgTable("vendors", {
  id: uuid("id").primaryKey(),
  name: text("name").notNull(),
  slug: text("slug").notNull(),
  revision: integer("revision").notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

/** Feeds the human-readable order numbers (`CF-000001`); gaps are harmless. */
export const orderNumberSeq = pgSequence("order_number_seq");

const statusList = ORDER_STATUSES.map((s) => `'${s}'`).join(", ");

export const orders = pgTable(
  "orders",
  {
    id: uuid("id").primaryKey(),
    number: text("number").notNull().unique(),
    checkoutId: uuid("checkout_id").notNull().unique(),
    reservationId: uuid("reservation_id").notNull(),
    customerId: text("customer_id").notNull(),
    status: text("status", { enum: ORDER_STATUSES }).notNull().default("confirmed"),
    totalMinor: bigint("total_minor", { mode: "number" }).notNull(),
    currency: text("currency").notNull(),
    paymentMethod: text("payment_method", { enum: ["cod"] })
      .notNull()
      .default("cod"),
    phone: text("phone").notNull(),
    shippingAddress: jsonb("shipping_address").$type<ShippingAddress>().notNull(),
    /** Where the lifecycle emails go; null when the customer's token carried no email. */
    customerEmail: text("customer_email"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    check("orders_status_check", sql.raw(`status in (${statusList})`)),
    check("orders_payment_method_check", sql`${t.paymentMethod} = 'cod'`),
    check("orders_total_minor_check", sql`${t.totalMinor} >= 0`),
    // Scanned backwards for `order by created_at desc, id desc` with a row-comparison keyset.
    index("orders_customer_created_idx").on(t.customerId, t.createdAt, t.id),
    // The ops list: by status, newest first, same keyset.
    index("orders_status_created_idx").on(t.status, t.createdAt, t.id),
  ],
);

/**
 * The delivery and cash record of a shipped order, written by the lifecycle transitions: the
 * courier and waybill (unique per courier, so one parcel is never two orders'), the failed
 * attempts, and the cash the courier collected — a sum that differs from the order total is
 * kept and flagged (`cash_mismatch`), never refused.
 */
export const deliveries = pgTable(
  "deliveries",
  {
    orderId: uuid("order_id")
      .primaryKey()
      .references(() => orders.id),
    courier: text("courier").notNull(),
    awb: text("awb").notNull(),
    attempts: integer("attempts").notNull().default(0),
    lastFailureReason: text("last_failure_reason"),
    cashCollectedMinor: bigint("cash_collected_minor", { mode: "number" }),
    cashMismatch: boolean("cash_mismatch"),
    /** Who handed the parcel over and took the cash (the JWT subject of the `delivered` call). */
    deliveredBy: text("delivered_by"),
    deliveredAt: timestamp("delivered_at", { withTimezone: true }),
  },
  (t) => [
    unique("deliveries_courier_awb_unique").on(t.courier, t.awb),
    check("deliveries_attempts_check", sql`${t.attempts} >= 0`),
    check("deliveries_cash_collected_minor_check", sql`${t.cashCollectedMinor} >= 0`),
  ],
);

/**
 * The phone, address and email of a checkout, kept from `checkout.requested` (the only event
 * that carries them) until its order is created from them or the checkout fails.
 */
export const checkoutContacts = pgTable("checkout_contacts", {
  checkoutId: uuid("checkout_id").primaryKey(),
  customerEmail: text("customer_email"),
  phone: text("phone").notNull(),
  shippingAddress: jsonb("shipping_address").$type<ShippingAddress>().notNull(),
  receivedAt: timestamp("received_at", { withTimezone: true }).notNull().defaultNow(),
});

/** The lines as inventory reserved them: a snapshot the order keeps forever. */
export const orderItems = pgTable(
  "order_items",
  {
    orderId: uuid("order_id")
      .notNull()
      .references(() => orders.id),
    lineNo: integer("line_no").notNull(),
    variantId: uuid("variant_id").notNull(),
    productSlug: text("product_slug").notNull(),
    vendorId: uuid("vendor_id")
      .notNull()
      .references(() => vendors.id),
    sku: text("sku").notNull(),
    title: text("title").notNull(),
    qty: integer("qty").notNull(),
    unitPriceMinor: bigint("unit_price_minor", { mode: "number" }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.orderId, t.lineNo] }),
    check("order_items_qty_check", sql`${t.qty} > 0`),
    check("order_items_unit_price_minor_check", sql`${t.unitPriceMinor} >= 0`),
  ],
);

/**
 * Append-only audit of every status change (the database refuses UPDATE, DELETE and TRUNCATE:
 * see the `order_events_append_only` migration). `from_status` is null for the first row.
 */
export const orderEvents = pgTable(
  "order_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    orderId: uuid("order_id")
      .notNull()
      .references(() => orders.id),
    actor: text("actor").notNull(),
    role: text("role").notNull(),
    fromStatus: text("from_status", { enum: ORDER_STATUSES }),
    toStatus: text("to_status", { enum: ORDER_STATUSES }).notNull(),
    data: jsonb("data").$type<Record<string, unknown>>().notNull().default({}),
    at: timestamp("at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("order_events_order_idx").on(t.orderId, t.id)],
);

/**
 * Checkouts that failed before their order existed (`checkout.failed` came first): a late
 * `inventory.reserved` for one of them makes no order and emits `orders.failed` instead, so
 * inventory releases the reservation. Written and read under the checkout's lock
 * (`lockCheckouts`), so a tombstone and a confirmed order never both exist for one checkout.
 */
export const voidedCheckouts = pgTable("voided_checkouts", {
  checkoutId: uuid("checkout_id").primaryKey(),
  /** Why checkout failed it (the `checkout.failed` reason). */
  reason: text("reason").notNull(),
  voidedAt: timestamp("voided_at", { withTimezone: true }).notNull().defaultNow(),
});
