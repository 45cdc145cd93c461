import { type EventData, type Logger, startConsumer } from "@codflow/shared";
import { signToken, startTestPlatform } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import {
  createApp,
  createCheckoutMetrics,
  onInventoryCommitted,
  onInventoryRejected,
  onInventoryReservationExpired,
  onInventoryVariantUpserted,
  onOrdersCancelled,
  onOrdersDelivered,
  onOrdersDeliveryFailed,
  onOrdersFailed,
  onOrdersReturned,
  type StatusWatch,
  startStatusWatch,
  upsertCatalogVariant,
} from "../src/index.ts";

export const COD_MAX_ORDER_MINOR = 1_000_00;

/** The service's defaults, but the HTTP rate limits out of the way of tests not about them. */
export const TEST_CONFIG = {
  COD_MAX_ORDER_MINOR,
  COD_MAX_ACTIVE_ORDERS: 3,
  CHECKOUT_ACCEPT_CONCURRENCY: 4,
  COD_AUTO_DISABLE_THRESHOLD: 2,
  COD_AUTO_DISABLE_WINDOW_DAYS: 90,
  PHONE_OTP_TTL_SECONDS: 600,
  PHONE_OTP_RESEND_SECONDS: 30,
  PHONE_OTP_SENDS_PER_HOUR: 5,
  RATE_LIMIT_CHECKOUT_PER_CUSTOMER: 1_000_000,
  RATE_LIMIT_CHECKOUT_PER_IP: 1_000_000,
  RATE_LIMIT_CHECKOUT_WINDOW_SECONDS: 60,
  RATE_LIMIT_OTP_PER_CUSTOMER: 1_000_000,
  RATE_LIMIT_OTP_PER_IP: 1_000_000,
  RATE_LIMIT_OTP_WINDOW_SECONDS: 600,
};

/**
 * A checkout service of this test file's own: a private database and NATS namespace, the real
 * app, the status watch, checkout's own metrics and (with `consumers: true`) the real consumers.
 * `config` overrides TEST_CONFIG; `logger` replaces the platform's (to capture log lines).
 */
export async function startCheckoutFixture({
  consumers = false,
  config = {},
  logger: appLogger,
}: {
  consumers?: boolean;
  config?: Partial<typeof TEST_CONFIG>;
  logger?: Logger;
} = {}) {
  const platform = await startTestPlatform("checkout", { poolMax: 20 });
  const { sql, namespace, metrics, verifyToken } = platform;
  const logger = appLogger ?? platform.logger;
  const consumerDeps = { ...platform.consumerDeps, logger };
  const statusWatch = startStatusWatch({ sql, logger, metrics });
  const checkoutMetrics = createCheckoutMetrics(metrics);
  const settings = { ...TEST_CONFIG, ...config };
  const deps = {
    config: settings,
    sql,
    namespace,
    logger,
    metrics,
    readiness: [],
    verifyToken,
    statusWatch,
  };
  if (consumers) {
    const fast = { baseBackoffMs: 50 };
    const outcomeDeps = { logger, metrics: checkoutMetrics };
    platform.track(startConsumer(consumerDeps, onInventoryVariantUpserted(), fast));
    platform.track(startConsumer(consumerDeps, onInventoryRejected(outcomeDeps), fast));
    platform.track(startConsumer(consumerDeps, onInventoryReservationExpired(outcomeDeps), fast));
    platform.track(startConsumer(consumerDeps, onInventoryCommitted(outcomeDeps), fast));
    platform.track(startConsumer(consumerDeps, onOrdersFailed(outcomeDeps), fast));
    const incidentDeps = {
      rules: {
        threshold: settings.COD_AUTO_DISABLE_THRESHOLD,
        windowDays: settings.COD_AUTO_DISABLE_WINDOW_DAYS,
      },
    };
    platform.track(startConsumer(consumerDeps, onOrdersDelivered(), fast));
    platform.track(startConsumer(consumerDeps, onOrdersCancelled(), fast));
    platform.track(startConsumer(consumerDeps, onOrdersDeliveryFailed(incidentDeps), fast));
    platform.track(startConsumer(consumerDeps, onOrdersReturned(incidentDeps), fast));
  }

  return {
    ...platform,
    logger,
    app: createApp(deps),
    deps,
    checkoutMetrics,
    statusWatch: statusWatch as StatusWatch,

    /** Whether a consumer has committed the effects of an event. */
    async handled(consumer: string, eventId: string) {
      const rows = await sql`
        select 1 from inbox where consumer = ${consumer} and event_id = ${eventId}`;
      return rows.length > 0;
    },

    async close() {
      await statusWatch.close();
      await platform.close();
    },
  };
}

export type CheckoutFixture = Awaited<ReturnType<typeof startCheckoutFixture>>;

/**
 * A customer whose phone (checkoutBody's) is already verified, as after the OTP routes: their
 * first COD order passes the phone rule. The OTP flow itself is tested in phone.int.test.ts.
 */
export async function customer(fx: CheckoutFixture, email?: string) {
  const shopper = await unverifiedCustomer(fx, email);
  await fx.sql`
    insert into cod_customers (customer_id, verified_phone, phone_verified_at)
    values (${shopper.id}, ${checkoutBody().phone}, now())`;
  return shopper;
}

/** A customer with a token, and shortcuts for calling the app as them. */
export async function unverifiedCustomer(fx: CheckoutFixture, email?: string) {
  const id = `customer-${uuidv7()}`;
  const token = await signToken({ sub: id, ...(email ? { email } : {}) });
  const call = (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) =>
    fx.app.request(path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  return {
    id,
    token,
    call,
    addLine: (variantId: string, qty: number) => call("POST", "/v1/cart/lines", { variantId, qty }),
    cart: async () => json<CartJson>(await call("GET", "/v1/cart")),
    checkout: (key: string, body: unknown = checkoutBody(), headers: Record<string, string> = {}) =>
      call("POST", "/v1/checkouts", body, { "idempotency-key": key, ...headers }),
  };
}

/** A customer with two lines in their cart: 2 × mug at 12.50 EUR and 1 × spoon at 5.00 EUR. */
export async function customerWithCart(fx: CheckoutFixture, email?: string) {
  const shopper = await customer(fx, email);
  const mug = await givenVariant(fx, { priceMinor: 12_50, title: "Blue mug" });
  const spoon = await givenVariant(fx, { priceMinor: 5_00, title: "Spoon" });
  const mugLine = await json<CartLineJson>(await shopper.addLine(mug.variantId, 2));
  const spoonLine = await json<CartLineJson>(await shopper.addLine(spoon.variantId, 1));
  return { shopper, mug, spoon, mugLine, spoonLine };
}

/** What inventory would say after committing the reservation of `lines` to a new order. */
export function inventoryCommittedFor(
  checkoutId: string,
  customerId: string,
  lines: { variant: EventData<"inventory.variant_upserted">; qty: number }[],
): EventData<"inventory.committed"> {
  const items = lines.map(({ variant, qty }) => ({
    variantId: variant.variantId,
    productSlug: variant.productSlug,
    vendorId: variant.vendorId,
    sku: variant.sku,
    title: variant.title,
    unitPriceMinor: variant.priceMinor,
    qty,
  }));
  return {
    orderId: uuidv7(),
    orderNumber: `CF-${Math.floor(Math.random() * 1e6)}`,
    checkoutId,
    reservationId: uuidv7(),
    customerId,
    items,
    totalMinor: items.reduce((sum, i) => sum + i.qty * i.unitPriceMinor, 0),
    currency: "EUR",
  };
}

export const checkoutBody = (overrides: Record<string, unknown> = {}) => ({
  paymentMethod: "cod",
  phone: "+4915112345678",
  shippingAddress: {
    name: "Ada Lovelace",
    line1: "Hauptstraße 1",
    city: "Berlin",
    postalCode: "10115",
    country: "DE",
  },
  ...overrides,
});

/** Puts a variant into the replica the way the catalog-replica consumer would. */
export async function givenVariant(
  fx: CheckoutFixture,
  overrides: Partial<EventData<"inventory.variant_upserted">> = {},
) {
  const variant: EventData<"inventory.variant_upserted"> = {
    variantId: uuidv7(),
    productId: uuidv7(),
    productSlug: "blue-mug",
    vendorId: uuidv7(),
    sku: `SKU-${Math.random().toString(36).slice(2, 8)}`,
    title: "Blue mug",
    priceMinor: 12_50,
    currency: "EUR",
    sellable: true,
    revision: 1,
    ...overrides,
  };
  await upsertCatalogVariant(fx.sql, variant);
  return variant;
}

export async function outboxEvents(fx: CheckoutFixture, type: string, correlationId: string) {
  const rows = await fx.sql<
    { envelope: { id: string; causationId: string | null; data: unknown } }[]
  >`
    select envelope from outbox where type = ${type} and correlation_id = ${correlationId}
    order by created_at`;
  return rows.map((r) => r.envelope);
}

/** Reads server-sent events from a response body, one parsed event per call. */
export function sseReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  return {
    async next(): Promise<{ event: string; data: unknown } | undefined> {
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const field = (name: string) =>
            block
              .split("\n")
              .filter((l) => l.startsWith(`${name}: `))
              .map((l) => l.slice(name.length + 2))
              .join("\n");
          return { event: field("event"), data: JSON.parse(field("data")) };
        }
        const { done, value } = await reader.read();
        if (done) return undefined;
        buffer += decoder.decode(value, { stream: true });
      }
    },
    cancel: () => reader.cancel(),
  };
}

export interface CartLineJson {
  id: string;
  variantId: string;
  qty: number;
  unitPriceMinor: number;
  currency: string;
  sellable: boolean;
}

export interface CartJson {
  lines: CartLineJson[];
  totalMinor: number;
  currency: string | null;
}

export interface ProblemJson {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: { path: string; message: string }[];
}

export interface CheckoutJson {
  id: string;
  status: "processing" | "confirmed" | "failed";
  statusUrl?: string;
  orderId?: string;
  orderNumber?: string;
  failure?: { reason: string; detail: string; lines?: unknown[] };
  totalMinor: number;
  currency: string;
  createdAt: string;
  updatedAt: string;
}

export const json = <T>(res: Response) => res.json() as Promise<T>;

export const problemSlug = async (res: Response) =>
  (await json<ProblemJson>(res)).type.split("/").pop();

/** What every `orders.*` lifecycle event carries, for the order made from `checkoutId`. */
export function lifecycleData(
  checkoutId: string,
  customerId: string,
  { orderId = uuidv7(), at = new Date() }: { orderId?: string; at?: Date } = {},
) {
  return {
    orderId,
    orderNumber: `CF-${orderId.slice(-6)}`,
    checkoutId,
    reservationId: uuidv7(),
    customerId,
    customerEmail: null,
    actorRole: "courier" as const,
    at: at.toISOString(),
  };
}

/** An admin or courier with a token, calling the app as them. */
export async function staff(fx: CheckoutFixture, role: "admin" | "courier") {
  const id = `${role}-${uuidv7()}`;
  const token = await signToken({ sub: id, role });
  const call = (method: string, path: string, body?: unknown) =>
    fx.app.request(path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  return { id, call };
}
