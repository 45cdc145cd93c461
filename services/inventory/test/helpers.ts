import {
  type ConsumerOptions,
  type ConsumerSpec,
  type EventData,
  type EventType,
  startConsumer,
  startOutboxRelay,
} from "@codflow/shared";
import { signToken, startTestPlatform, waitFor } from "@codflow/shared/testing";
import type { z } from "@hono/zod-openapi";
import { v7 as uuidv7 } from "uuid";
import type {
  adminProductSchema,
  adminVariantSchema,
  publicProductSchema,
  vendorSchema,
} from "../src/http/schemas.ts";
import { createApp, createInventoryMetrics, startExpirySweeper } from "../src/index.ts";

/**
 * One test file's inventory: its own database (copied from the migrated template), its own NATS
 * namespace, the real app, and the consumers/relay it starts. `close()` stops and drops it all.
 */
export async function startInventory() {
  const platform = await startTestPlatform("inventory", { poolMax: 10 });
  const { sql, namespace, verifyToken, logger, metrics, consumerDeps } = platform;
  const app = createApp({ sql, namespace, verifyToken, logger, metrics, readiness: [] });
  const adminToken = await signToken({ sub: "admin-1", role: "admin" });
  const inventoryMetrics = createInventoryMetrics(metrics);

  return {
    ...platform,
    app,
    adminToken,
    inventoryMetrics,
    /** Starts the expiry sweeper on this database and namespace; stopped by close(). */
    sweeper({ pollMs = 20 }: { pollMs?: number } = {}) {
      return platform.track(
        startExpirySweeper({ sql, namespace, logger, metrics: inventoryMetrics, pollMs }),
      );
    },
    /** Starts a real consumer on this namespace; stopped by close(). */
    consume<T extends EventType>(spec: ConsumerSpec<T>, options?: ConsumerOptions) {
      return platform.track(startConsumer(consumerDeps, spec, options));
    },
    /** Starts the outbox relay; stopped by close(). */
    relay() {
      return platform.track(startOutboxRelay(consumerDeps));
    },
    /** An admin request through the real app, in process. */
    admin(method: string, path: string, body?: unknown, token: string | null = adminToken) {
      return app.request(path, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    },
  };
}

export type Inventory = Awaited<ReturnType<typeof startInventory>>;

let counter = 0;
const unique = (prefix: string) =>
  `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;

/** Creates a vendor and a product through the admin API; returns the product as answered. */
export async function seedProduct(
  fx: Inventory,
  variants: { stock: number; priceMinor?: number; currency?: string; title?: string }[] = [
    { stock: 10 },
  ],
) {
  const vendorRes = await fx.admin("POST", "/v1/admin/catalog/vendors", {
    name: "Acme",
    slug: unique("acme"),
  });
  if (vendorRes.status !== 201)
    throw new Error(`vendor: ${vendorRes.status} ${await vendorRes.text()}`);
  const vendor = await bodyOf<Vendor>(vendorRes);
  const res = await fx.admin("POST", "/v1/admin/catalog/products", {
    vendorId: vendor.id,
    slug: unique("mug"),
    title: "Mug",
    variants: variants.map((v) => ({
      sku: unique("SKU"),
      priceMinor: v.priceMinor ?? 1000,
      currency: v.currency ?? "EUR",
      stock: v.stock,
      ...(v.title ? { title: v.title } : {}),
    })),
  });
  if (res.status !== 201) throw new Error(`product: ${res.status} ${await res.text()}`);
  return bodyOf<AdminProduct>(res);
}

/** A checkout.requested for the given lines, priced as seeded unless told otherwise. */
export function checkoutRequested(
  lines: { variantId: string; qty: number; unitPriceMinor?: number; currency?: string }[],
  checkoutId = uuidv7(),
): EventData<"checkout.requested"> {
  const priced = lines.map((l) => ({
    variantId: l.variantId,
    qty: l.qty,
    unitPriceMinor: l.unitPriceMinor ?? 1000,
    currency: l.currency ?? "EUR",
  }));
  return {
    checkoutId,
    customerId: "customer-1",
    customerEmail: "customer-1@codflow.test",
    lines: priced,
    totalMinor: priced.reduce((sum, l) => sum + l.qty * l.unitPriceMinor, 0),
    currency: "EUR",
    phone: "+15555550100",
    shippingAddress: {
      name: "Ada",
      line1: "1 Main St",
      city: "Berlin",
      postalCode: "10115",
      country: "DE",
    },
  };
}

export interface OutboxEvent<D = Record<string, unknown>> {
  id: string;
  type: string;
  correlationId: string;
  causationId: string | null;
  data: D;
}

/** The events this service appended, oldest first, optionally of one type. */
export async function outboxEvents<D = Record<string, unknown>>(fx: Inventory, type?: string) {
  const rows = await fx.sql<{ envelope: OutboxEvent<D> }[]>`
    select envelope from outbox ${type ? fx.sql`where type = ${type}` : fx.sql``} order by created_at, id`;
  return rows.map((r) => r.envelope);
}

export async function stockLevel(fx: Inventory, variantId: string) {
  const [row] = await fx.sql<{ onHand: number; reserved: number; committed: number }[]>`
    select on_hand as "onHand", reserved, committed from stock_levels where variant_id = ${variantId}`;
  return row;
}

/** Variants whose stock level is not the sum of their ledger rows (the ledger invariant). */
export async function ledgerMismatches(fx: Inventory) {
  return fx.sql`
    select s.variant_id, s.on_hand, s.reserved, s.committed, m.on_hand as ledger_on_hand,
           m.reserved as ledger_reserved, m.committed as ledger_committed
    from stock_levels s
    left join (
      select variant_id, sum(on_hand_delta)::int as on_hand, sum(reserved_delta)::int as reserved,
             sum(committed_delta)::int as committed
      from stock_movements group by variant_id
    ) m using (variant_id)
    where (s.on_hand, s.reserved, s.committed)
          is distinct from (coalesce(m.on_hand, 0), coalesce(m.reserved, 0), coalesce(m.committed, 0))`;
}

/**
 * Variants whose reserved/committed units differ from what the reservations hold (lines of
 * active reservations are reserved, lines of committed ones committed).
 */
export async function heldMismatches(fx: Inventory) {
  return fx.sql`
    select s.variant_id, s.reserved, s.committed, h.reserved as held_reserved,
           h.committed as held_committed
    from stock_levels s
    left join (
      select l.variant_id,
             coalesce(sum(l.qty) filter (where r.status = 'active'), 0)::int as reserved,
             coalesce(sum(l.qty) filter (where r.status = 'committed'), 0)::int as committed
      from reservation_lines l join reservations r on r.id = l.reservation_id group by l.variant_id
    ) h using (variant_id)
    where (s.reserved, s.committed) is distinct from (coalesce(h.reserved, 0), coalesce(h.committed, 0))`;
}

export type Vendor = z.infer<typeof vendorSchema>;
export type AdminProduct = z.infer<typeof adminProductSchema>;
export type AdminVariant = z.infer<typeof adminVariantSchema>;
export type PublicProduct = z.infer<typeof publicProductSchema>;

/** A response body, read as the type its route declares. */
export const bodyOf = async <T>(res: Response | Promise<Response>) =>
  (await (await res).json()) as T;

export type Reserved = OutboxEvent<EventData<"inventory.reserved">>;

/** Reserves the lines through the real consumer and returns the inventory.reserved it emitted. */
export async function reserve(fx: Inventory, lines: { variantId: string; qty: number }[]) {
  const request = checkoutRequested(lines);
  await fx.publish("checkout.requested", request);
  return waitFor(
    async () =>
      (await outboxEvents<EventData<"inventory.reserved">>(fx, "inventory.reserved")).find(
        (e): e is Reserved => e.correlationId === request.checkoutId,
      ),
    { what: "inventory.reserved" },
  );
}

/** The orders.confirmed the orders service would send for this reservation. */
export const ordersConfirmed = ({ data }: Reserved): EventData<"orders.confirmed"> => ({
  orderId: uuidv7(),
  orderNumber: "CF-1001",
  checkoutId: data.checkoutId,
  reservationId: data.reservationId,
  customerId: data.customerId,
  items: data.lines,
  totalMinor: data.totalMinor,
  currency: data.currency,
});

export const reservationStatus = async (fx: Inventory, reservationId: string) =>
  (await fx.sql`select status from reservations where id = ${reservationId}`)[0]?.status as
    | string
    | undefined;
