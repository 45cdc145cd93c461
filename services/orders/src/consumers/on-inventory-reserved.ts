import {
  type ConsumerSpec,
  type EventData,
  type EventOf,
  type Logger,
  type NewEvent,
  RetryableError,
  TerminalError,
  TooEarlyError,
  type TxSql,
} from "@codflow/shared";
import { v7 as uuidv7 } from "uuid";
import { lockCheckouts } from "../db/checkout-lock.ts";
import { insertOrders, resendConfirmation } from "../db/insert-order.ts";
import { checkReservedOrder } from "../domain/reserved-order.ts";
import type { OrdersMetrics } from "../metrics.ts";

const VENDOR_FK = "order_items_vendor_id_vendors_id_fk";

type Reserved = EventOf<"inventory.reserved">;

/**
 * Turns stock reservations into orders: the orders, all their items and their first audit rows
 * in one statement, at most one order per checkout; a batch takes the same two statements as
 * one event (its checkouts' locks, then the orders). Emits `orders.confirmed` per order
 * (inventory commits the reservation, checkout confirms); `checkout.failed` undoes it
 * (`orders.abort-checkout` cancels the order). A checkout that already failed (tombstone in
 * `voided_checkouts`) gets no order but `orders.failed`, so inventory releases the reservation;
 * the checkout's lock keeps a concurrent abort from slipping between. The phone, address and
 * email come from what `orders.keep-checkout-contacts` kept of `checkout.requested`; when that
 * has not arrived yet (the two consumers race), the event is retried, first within milliseconds
 * (EARLY_RETRY_DELAYS_MS), then with back-off. In a batch it alone is left for later and the
 * rest commit together (at 400/s the whole batch used to run again one event per transaction:
 * 1–2 s in which create-order fell behind, every ~10 s). When a vendor is missing from the
 * replica (its `inventory.vendor_upserted` is late), the statement fails: a batch rolls back and
 * each event runs alone, so only the early one waits. An event the orders service refuses is
 * dead-lettered, and `onDeadLetter` emits `orders.failed`: the compensation that releases the
 * reservation (inventory) and fails the checkout (checkout).
 */
export function onInventoryReserved({
  logger,
  metrics,
}: {
  logger: Logger;
  /** Counts `codflow_orders_created_total` after commit when given. */
  metrics?: OrdersMetrics;
}): ConsumerSpec<"inventory.reserved"> {
  return {
    name: "orders.create-order",
    type: "inventory.reserved",
    async handle(event, tx) {
      const outputs = await createOrders([event], tx.sql, logger);
      const [early] = outputs.early;
      if (early) throw new TooEarlyError(early.reason);
      if (outputs.created > 0) tx.afterCommit(() => metrics?.ordersCreated.inc(outputs.created));
      for (const { events } of outputs.emitted) await tx.emit(events);
    },
    async handleBatch(events, tx) {
      const checkouts = new Set(events.map((e) => e.data.checkoutId));
      if (checkouts.size < events.length) {
        // The second event of a checkout must see the first one's order: one by one.
        throw new RetryableError("a checkout appears twice in the batch");
      }
      const outputs = await createOrders(events, tx.sql, logger);
      for (const { source, reason } of outputs.early) tx.retryLater(source, reason);
      if (outputs.created > 0) tx.afterCommit(() => metrics?.ordersCreated.inc(outputs.created));
      for (const { source, events: emitted } of outputs.emitted) tx.emitFor(source, emitted);
    },
    async onDeadLetter({ data }, tx, reason) {
      await tx.emit(ordersFailed(data, reason));
    },
  };
}

/**
 * Applies reservations of distinct checkouts; returns what each caused, in event order, and
 * the ones that came before their checkout's contacts (`early`: no effect here, to retry).
 */
async function createOrders(
  events: Reserved[],
  sql: TxSql,
  logger: Logger,
): Promise<{
  created: number;
  emitted: { source: Reserved; events: NewEvent[] }[];
  early: { source: Reserved; reason: string }[];
}> {
  for (const { data } of events) {
    const check = checkReservedOrder(data);
    if (!check.ok) throw new TerminalError(`order refused: ${check.reason}`);
  }

  await lockCheckouts(
    sql,
    events.map(({ data }) => data.checkoutId),
  );
  const results = await insertOrders(
    sql,
    events.map(({ data }) => ({
      id: uuidv7(),
      checkoutId: data.checkoutId,
      reservationId: data.reservationId,
      customerId: data.customerId,
      totalMinor: data.totalMinor,
      currency: data.currency,
      lines: data.lines,
      audit: { checkoutId: data.checkoutId, reservationId: data.reservationId },
    })),
  ).catch((err: unknown) => {
    if (isForeignKeyViolation(err, VENDOR_FK)) {
      throw new RetryableError(`vendor not replicated yet: ${(err as { detail?: string }).detail}`);
    }
    throw err;
  });

  let created = 0;
  const emitted: { source: Reserved; events: NewEvent[] }[] = [];
  const early: { source: Reserved; reason: string }[] = [];
  for (const [i, source] of events.entries()) {
    const { data } = source;
    const result = results[i];
    if (!result || result.outcome === "contacts-missing") {
      const reason = `checkout ${data.checkoutId}: its contact details (checkout.requested) have not arrived yet`;
      early.push({ source, reason });
      continue;
    }
    if (result.outcome === "voided") {
      emitted.push({ source, events: [ordersFailed(data, "checkout already failed")] });
    } else if (result.outcome === "exists") {
      await resendExistingConfirmation(sql, logger, data);
    } else {
      created += 1;
      emitted.push({ source, events: [ordersConfirmed(data, result)] });
    }
  }
  return { created, emitted, early };
}

async function resendExistingConfirmation(
  sql: TxSql,
  logger: Logger,
  data: EventData<"inventory.reserved">,
) {
  const existing = await resendConfirmation(sql, data.checkoutId, data.reservationId);
  if (existing?.reservationId !== data.reservationId) {
    // Not ours to release: inventory's expiry sweeper frees a stray reservation.
    logger.warn(
      {
        checkoutId: data.checkoutId,
        reservationId: data.reservationId,
        orderNumber: existing?.number,
      },
      "checkout already has an order under another reservation; event ignored",
    );
  }
}

const ordersConfirmed = (
  data: EventData<"inventory.reserved">,
  order: { id: string; number: string },
): NewEvent<"orders.confirmed"> => ({
  type: "orders.confirmed",
  correlationId: data.checkoutId,
  data: {
    orderId: order.id,
    orderNumber: order.number,
    checkoutId: data.checkoutId,
    reservationId: data.reservationId,
    customerId: data.customerId,
    items: data.lines,
    totalMinor: data.totalMinor,
    currency: data.currency,
  },
});

const ordersFailed = (
  data: EventData<"inventory.reserved">,
  detail: string,
): NewEvent<"orders.failed"> => ({
  type: "orders.failed",
  correlationId: data.checkoutId,
  data: {
    checkoutId: data.checkoutId,
    reservationId: data.reservationId,
    customerId: data.customerId,
    detail,
  },
});

function isForeignKeyViolation(err: unknown, constraint: string) {
  const pgError = err as { code?: string; constraint_name?: string };
  return pgError.code === "23503" && pgError.constraint_name === constraint;
}
