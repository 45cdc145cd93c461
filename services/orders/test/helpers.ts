import {
  type ConsumerOptions,
  type EventData,
  type FailureReason,
  startConsumer,
  startOutboxRelay,
} from "@codflow/shared";
import { shirtAndSocks, startTestPlatform, waitFor } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import {
  createApp,
  createOrdersMetrics,
  onCheckoutFailed,
  onCheckoutRequested,
  onInventoryReserved,
  onVendorUpserted,
} from "../src/index.ts";

/**
 * A private database and NATS namespace for one test file, with the real outbox relay and the
 * orders consumers running (fast back-off so retries are quick).
 */
export async function startOrdersFixture({
  consumerOptions = { baseBackoffMs: 100, maxBackoffMs: 1000 },
  maxDeliveryAttempts = 3,
}: {
  consumerOptions?: ConsumerOptions;
  maxDeliveryAttempts?: number;
} = {}) {
  const platform = await startTestPlatform("orders");
  const { consumerDeps, logger } = platform;
  platform.track(startOutboxRelay({ ...consumerDeps, pollMs: 100 }));
  platform.track(startConsumer(consumerDeps, onVendorUpserted(), consumerOptions));
  platform.track(startConsumer(consumerDeps, onCheckoutRequested(), consumerOptions));
  const metrics = createOrdersMetrics(platform.metrics);
  platform.track(
    startConsumer(consumerDeps, onInventoryReserved({ logger, metrics }), consumerOptions),
  );
  platform.track(
    startConsumer(consumerDeps, onCheckoutFailed({ logger, metrics }), consumerOptions),
  );
  const app = createApp({
    logger,
    metrics: platform.metrics,
    readiness: [],
    verifyToken: platform.verifyToken,
    db: platform.db,
    sql: platform.sql,
    namespace: platform.namespace,
    maxDeliveryAttempts,
  });
  return { ...platform, app };
}

export type OrdersFixture = Awaited<ReturnType<typeof startOrdersFixture>>;

/** Publishes a new vendor and waits until orders has replicated it; returns its id. */
export async function replicateVendor(fx: OrdersFixture) {
  const vendorId = uuidv7();
  await fx.publish("inventory.vendor_upserted", vendorData(vendorId));
  await waitFor(
    async () => (await fx.sql`select 1 from vendors where id = ${vendorId}`).length === 1,
    { what: "vendor replicated" },
  );
  return vendorId;
}

export const vendorData = (
  vendorId = uuidv7(),
  revision = 1,
): EventData<"inventory.vendor_upserted"> => ({
  vendorId,
  name: `Vendor ${revision}`,
  slug: `vendor-${vendorId.slice(-6)}`,
  revision,
});

/** A two-line reservation for `vendorId`: 2 × 1250 + 1 × 999 = 3499 EUR cents. */
export const reservedData = (
  vendorId: string,
  {
    customerId = "customer-1",
    checkoutId = uuidv7(),
  }: { customerId?: string; checkoutId?: string } = {},
): EventData<"inventory.reserved"> => ({
  checkoutId,
  reservationId: uuidv7(),
  expiresAt: new Date(Date.now() + 15 * 60_000).toISOString(),
  customerId,
  lines: shirtAndSocks(vendorId),
  totalMinor: 3499,
  currency: "EUR",
});

export const shippingAddress = {
  name: "Ada Lovelace",
  line1: "1 Main St",
  city: "Berlin",
  postalCode: "10115",
  country: "DE",
};

/** The checkout's first event, whose phone, address and email orders keeps for the order. */
export const requestedData = (
  reserved: EventData<"inventory.reserved">,
  customerEmail: string | null = `${reserved.customerId}@codflow.test`,
): EventData<"checkout.requested"> => ({
  checkoutId: reserved.checkoutId,
  customerId: reserved.customerId,
  customerEmail,
  lines: reserved.lines.map((l) => ({
    variantId: l.variantId,
    qty: l.qty,
    unitPriceMinor: l.unitPriceMinor,
    currency: reserved.currency,
  })),
  totalMinor: reserved.totalMinor,
  currency: reserved.currency,
  phone: "+15555550100",
  shippingAddress,
});

/**
 * Publishes what reaches orders for one checkout: `checkout.requested` (the contact details),
 * then `inventory.reserved`, whose envelope it returns.
 */
export async function publishReserved(
  fx: OrdersFixture,
  data: EventData<"inventory.reserved">,
  customerEmail?: string | null,
) {
  await fx.publish("checkout.requested", requestedData(data, customerEmail));
  return fx.publish("inventory.reserved", data);
}

/** The abort signal checkout sends when `checkoutId` fails. */
export const checkoutFailedData = (
  checkoutId: string,
  {
    reason = "timed_out",
    customerId = "customer-1",
  }: { reason?: FailureReason; customerId?: string } = {},
): EventData<"checkout.failed"> => ({
  checkoutId,
  customerId,
  customerEmail: null,
  reason,
  detail: `checkout failed: ${reason}`,
});
