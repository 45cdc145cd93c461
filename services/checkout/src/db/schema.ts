import { sql } from "drizzle-orm";
import {
  bigserial,
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
    // "Has this customer had a COD order confirmed?" (the first-order phone rule).
    index("checkouts_customer_status_idx").on(t.customerId, t.status),
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

/**
 * A customer's COD standing, created lazily on first use. Its row is also the per-customer lock
 * that serialises checkouts (the active-order count) and COD switches of one customer.
 */
export const codCustomers = pgTable("cod_customers", {
  customerId: text("customer_id").primaryKey(),
  verifiedPhone: text("verified_phone"),
  phoneVerifiedAt: timestamp("phone_verified_at", { withTimezone: true }),
  codDisabled: boolean("cod_disabled").notNull().default(false),
  disabledReason: text("disabled_reason"),
  disabledAt: timestamp("disabled_at", { withTimezone: true }),
  /** The admin's user id, or `system` for an automatic disable. */
  disabledBy: text("disabled_by"),
  /** Set when an admin lifts a disable: incidents that happened before it no longer count. */
  incidentsCountedSince: timestamp("incidents_counted_since", { withTimezone: true }),
  ...timestamps,
});

/**
 * Accepted COD checkouts that still hold one of the customer's active-order slots: inserted on
 * accept, deleted when the checkout fails or its order is delivered, cancelled or returned.
 */
export const codActiveOrders = pgTable(
  "cod_active_orders",
  {
    checkoutId: uuid("checkout_id").primaryKey(),
    customerId: text("customer_id").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("cod_active_orders_customer_idx").on(t.customerId)],
);

export const COD_INCIDENT_KINDS = ["delivery_failed", "returned"] as const;

/** One failed or returned COD delivery per order: what auto-disable counts. */
export const codIncidents = pgTable(
  "cod_incidents",
  {
    orderId: uuid("order_id").primaryKey(),
    customerId: text("customer_id").notNull(),
    kind: text("kind", { enum: COD_INCIDENT_KINDS }).notNull(),
    occurredAt: timestamp("occurred_at", { withTimezone: true }).notNull(),
    recordedAt: timestamp("recorded_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("cod_incidents_customer_occurred_idx").on(t.customerId, t.occurredAt),
    check("cod_incidents_kind_known", sql`${t.kind} in ('delivery_failed', 'returned')`),
  ],
);

/** Every change of a customer's COD switch; the database refuses to update or delete a row. */
export const codAudit = pgTable(
  "cod_audit",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    customerId: text("customer_id").notNull(),
    /** The admin's user id, or `system`. */
    actor: text("actor").notNull(),
    actorRole: text("actor_role").notNull(),
    at: timestamp("at", { withTimezone: true }).notNull().defaultNow(),
    fromDisabled: boolean("from_disabled").notNull(),
    toDisabled: boolean("to_disabled").notNull(),
    reason: text("reason").notNull(),
    data: jsonb("data"),
  },
  (t) => [index("cod_audit_customer_idx").on(t.customerId, t.id)],
);

/**
 * One-time codes sent to prove a phone number: only a salted hash of the code is kept. The
 * newest row of a customer is the one a confirmation is checked against.
 */
export const phoneVerifications = pgTable(
  "phone_verifications",
  {
    id: uuid("id").primaryKey(),
    customerId: text("customer_id").notNull(),
    phone: text("phone").notNull(),
    codeSalt: text("code_salt").notNull(),
    codeHash: text("code_hash").notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    /** Wrong codes tried so far. */
    attempts: integer("attempts").notNull().default(0),
    verifiedAt: timestamp("verified_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("phone_verifications_customer_created_idx").on(t.customerId, t.createdAt)],
);

/**
 * Fixed-window hit counters of the HTTP rate limits, shared by every replica: one row per
 * limiter and client, reset in place when its window has passed.
 */
export const rateLimitHits = pgTable("rate_limit_hits", {
  key: text("key").primaryKey(),
  hits: integer("hits").notNull(),
  resetAt: timestamp("reset_at", { withTimezone: true }).notNull(),
});
