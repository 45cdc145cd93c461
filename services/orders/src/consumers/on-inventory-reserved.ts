import {
  type ConsumerSpec,
  type EventData,
  type Logger,
  type NewEvent,
  RetryableError,
  TerminalError,
} from "@codflow/shared";
import { v7 as uuidv7 } from "uuid";
import { lockCheckout } from "../db/checkout-lock.ts";
import { insertOrder, resendConfirmation } from "../db/insert-order.ts";
import { checkReservedOrder } from "../domain/reserved-order.ts";
import type { OrdersMetrics } from "../metrics.ts";

const VENDOR_FK = "order_items_vendor_id_vendors_id_fk";

/**
 * Turns a stock reservation into an order: the order, all its items and its first audit row in
 * one statement, at most one order per checkout. Emits `orders.confirmed` (inventory commits
 * the reservation, checkout confirms); `checkout.failed` undoes it (`orders.abort-checkout`
 * cancels the order). A checkout that already failed (tombstone in `voided_checkouts`) gets no
 * order but `orders.failed`, so inventory releases the reservation; the checkout's lock keeps
 * a concurrent abort from slipping between. The phone, address and email come from what
 * `orders.keep-checkout-contacts` kept of `checkout.requested`; when that has not arrived yet,
 * or a vendor is missing from the replica (its `inventory.vendor_upserted` is late), the event
 * is retried with back-off. An event the orders service refuses is
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
    async handle({ data }, tx) {
      const check = checkReservedOrder(data);
      if (!check.ok) throw new TerminalError(`order refused: ${check.reason}`);

      await lockCheckout(tx.sql, data.checkoutId);
      const result = await insertOrder(tx.sql, {
        id: uuidv7(),
        checkoutId: data.checkoutId,
        reservationId: data.reservationId,
        customerId: data.customerId,
        totalMinor: data.totalMinor,
        currency: data.currency,
        lines: data.lines,
        audit: { checkoutId: data.checkoutId, reservationId: data.reservationId },
      }).catch((err: unknown) => {
        if (isForeignKeyViolation(err, VENDOR_FK)) {
          throw new RetryableError(
            `vendor not replicated yet: ${(err as { detail?: string }).detail}`,
          );
        }
        throw err;
      });

      if (result.outcome === "contacts-missing") {
        throw new RetryableError(
          `checkout ${data.checkoutId}: its contact details (checkout.requested) have not arrived yet`,
        );
      }
      if (result.outcome === "voided") {
        await tx.emit(ordersFailed(data, "checkout already failed"));
        return;
      }
      if (result.outcome === "exists") {
        const existing = await resendConfirmation(tx.sql, data.checkoutId, data.reservationId);
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
        return;
      }

      tx.afterCommit(() => metrics?.ordersCreated.inc());
      await tx.emit({
        type: "orders.confirmed",
        correlationId: data.checkoutId,
        data: {
          orderId: result.id,
          orderNumber: result.number,
          checkoutId: data.checkoutId,
          reservationId: data.reservationId,
          customerId: data.customerId,
          items: data.lines,
          totalMinor: data.totalMinor,
          currency: data.currency,
        },
      });
    },
    async onDeadLetter({ data }, tx, reason) {
      await tx.emit(ordersFailed(data, reason));
    },
  };
}

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
