import { sql } from "drizzle-orm";
import {
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

export { inbox, outbox } from "@codflow/shared";

const timestamps = {
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
};

/** inventory's variants as `inventory.variant_upserted` last described them (newest revision wins). */
export const catalogVariants = pgTable(
  "catalog_variants",
  {
    variantId: uuid("variant_id").primaryKey(),
    productId: uuid("product_id").notNull(),
    productSlug: text("product_slug").notNull(),
    vendorId: uuid("vendor_id").notNull(),
    sku: text("sku").notNull(),
    title: text("title").notNull(),
    priceMinor: integer("price_minor").notNull(),
    currency: text("currency").notNull(),
    sellable: boolean("sellable").notNull(),
    revision: integer("revision").notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [check("catalog_variants_price_minor_nonnegative", sql`${t.priceMinor} >= 0`)],
);

export const carts = pgTable("carts", {
  id: uuid("id").primaryKey(),
  customerId: text("customer_id").notNull().unique(),
  ...timestamps,
});

export const cartLines = pgTable(
  "cart_lines",
  {
    id: uuid("id").primaryKey(),
    cartId: uuid("cart_id")
      .notNull()
      .references(() => carts.id, { onDelete: "cascade" }),
    variantId: uuid("variant_id").notNull(),
    qty: integer("qty").notNull(),
    ...timestamps,
  },
  (t) => [
    unique("cart_lines_one_line_per_variant").on(t.cartId, t.variantId),
    check("cart_lines_qty_in_range", sql`${t.qty} between 1 and 100`),
  ],
);

export const CHECKOUT_STATUSES = ["processing", "confirmed", "failed"] as const;
export type CheckoutStatus = (typeof CHECKOUT_STATUSES)[number];

export const checkouts = pgTable(
  "checkouts",
  {
    id: uuid("id").primaryKey(),
    customerId: text("customer_id").notNull(),
    customerEmail: text("customer_email"),
    cartId: uuid("cart_id")
      .notNull()
      .references(() => carts.id),
    status: text("status", { enum: CHECKOUT_STATUSES }).notNull(),
    failureReason: text("failure_reason"),
    /** The sentence the customer reads about why the checkout failed. */
    failureDetail: text("failure_detail"),
    /** inventory's per-line reasons when it rejected the checkout (out of stock, price changed…). */
    failureLines: jsonb("failure_lines"),
    orderId: uuid("order_id"),
    orderNumber: text("order_number"),
    totalMinor: integer("total_minor").notNull(),
    currency: text("currency").notNull(),
    phone: text("phone").notNull(),
    shippingAddress: jsonb("shipping_address").notNull(),
    ...timestamps,
    completedAt: timestamp("completed_at", { withTimezone: true }),
    /** Set at creation and at each re-drive: a processing checkout older than this is stalled. */
    lastProgressAt: timestamp("last_progress_at", { withTimezone: true }).notNull().defaultNow(),
    /** Times the re-driver re-sent this checkout's `checkout.requested`. */
    redrives: integer("redrives").notNull().default(0),
  },
  (t) => [
    // The database, not the code, decides that a cart has at most one checkout in flight.
    uniqueIndex("checkouts_one_processing_per_cart")
      .on(t.cartId)
      .where(sql`${t.status} = 'processing'`),
    // The re-driver's claim: only checkouts in flight, oldest progress first.
    index("checkouts_processing_by_last_progress_idx")
      .on(t.lastProgressAt)
      .where(sql`${t.status} = 'processing'`),
    check("checkouts_status_known", sql`${t.status} in ('processing', 'confirmed', 'failed')`),
    check(
      "checkouts_outcome_matches_status",
      sql`(${t.status} = 'processing' and ${t.completedAt} is null)
        or (${t.status} = 'confirmed' and ${t.orderId} is not null and ${t.completedAt} is not null)
        or (${t.status} = 'failed' and ${t.failureReason} is not null and ${t.completedAt} is not null)`,
    ),
  ],
);

/** The cart lines a checkout took, with the prices the customer was shown. */
export const checkoutLines = pgTable(
  "checkout_lines",
  {
    checkoutId: uuid("checkout_id")
      .notNull()
      .references(() => checkouts.id, { onDelete: "cascade" }),
    cartLineId: uuid("cart_line_id").notNull(),
    variantId: uuid("variant_id").notNull(),
    qty: integer("qty").notNull(),
    unitPriceMinor: integer("unit_price_minor").notNull(),
    currency: text("currency").notNull(),
  },
  (t) => [primaryKey({ columns: [t.checkoutId, t.cartLineId] })],
);

/** A customer's `Idempotency-Key` → the checkout it created; the primary key decides races. */
export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    customerId: text("customer_id").notNull(),
    key: text("key").notNull(),
    requestHash: text("request_hash").notNull(),
    checkoutId: uuid("checkout_id").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.customerId, t.key] })],
);
