/**
 * inventory.reserve-stock — on `checkout.requested`, reserves EVERY line of the checkout or NONE,
 * in the handler's transaction, inside one savepoint that any refusal rolls back whole:
 *   1. claim the checkout (unique reservations.checkout_id: a checkout never reserves twice;
 *      if it already has a reservation, its `inventory.reserved` is re-sent instead, unless
 *      it is the `void` tombstone of a checkout aborted first: then nothing happens),
 *   2. share-lock the variants and check each is sellable at the price and currency the customer
 *      saw (else `product_unavailable` / `price_changed`, per line),
 *   3. ONE conditional multi-row update of stock_levels; if it took fewer lines than asked, the
 *      checkout is refused `out_of_stock`, each short line with requested and available qty.
 * Emits `inventory.reserved` (line snapshots, expiry, customer and totals for orders; the phone
 * and address reach orders only through checkout.requested) or `inventory.rejected` (reason +
 * per-line details).
 * Undone by: `checkout.failed` (inventory.abort-checkout), `orders.failed`
 * (inventory.release-reservation), `orders.cancelled` (inventory.cancel-commitment),
 * `orders.returned` (inventory.restock-return), or expiry (the expiry sweeper).
 */
import {
  type ConsumerSpec,
  type EventData,
  type MessageTx,
  resendOutputsOf,
  TerminalError,
  type TxSql,
} from "@codflow/shared";
import {
  availableQty,
  causesOfReserved,
  insertReservation,
  lockVariantsForSale,
  reservationStatusOf,
  takeStock,
  type VariantForSale,
} from "../db/reserve-stock.ts";
import { type DbTimestamp, isoTimestamp } from "../db/timestamps.ts";
import {
  checkSaleability,
  mergeLines,
  outOfStock,
  type Rejection,
  type RequestedLine,
} from "../domain/reservation.ts";
import { lineTitle } from "../domain/sellable.ts";
import type { InventoryMetrics } from "../metrics.ts";

type Requested = EventData<"checkout.requested">;

/** Thrown inside the savepoint so every write of the attempt is undone, then emitted. */
class ReservationRefused extends Error {
  constructor(readonly rejection: Rejection) {
    super(`reservation refused: ${rejection.reason}`);
  }
}

type Reserved = {
  kind: "reserved";
  reservationId: string;
  expiresAt: DbTimestamp;
  lines: RequestedLine[];
  variants: Map<string, VariantForSale>;
};
type Attempt =
  | Reserved
  | { kind: "already-reserved" }
  | { kind: "aborted" }
  | { kind: "refused"; rejection: Rejection };

export function onCheckoutRequested({
  reservationTtlSeconds,
  metrics,
}: {
  reservationTtlSeconds: number;
  /** Counts `codflow_reservations_total{result,reason}` after commit when given. */
  metrics?: InventoryMetrics;
}): ConsumerSpec<"checkout.requested"> {
  return {
    name: "inventory.reserve-stock",
    type: "checkout.requested",
    async handle({ data }, tx) {
      const attempt: Attempt = await tx.sql
        .savepoint((sp) => reserveEveryLine(sp, data, reservationTtlSeconds))
        .catch((err: unknown) => {
          if (err instanceof ReservationRefused)
            return { kind: "refused", rejection: err.rejection } as const;
          throw err;
        });
      if (attempt.kind === "reserved") {
        tx.afterCommit(() => metrics?.reservations.inc({ result: "reserved", reason: "" }));
        return emitReserved(tx, data, attempt);
      }
      if (attempt.kind === "already-reserved") return resendReserved(tx, data.checkoutId);
      if (attempt.kind === "aborted") return;
      const { reason } = attempt.rejection;
      tx.afterCommit(() => metrics?.reservations.inc({ result: "rejected", reason }));
      await tx.emit({
        type: "inventory.rejected",
        correlationId: data.checkoutId,
        data: { checkoutId: data.checkoutId, ...attempt.rejection },
      });
    },
  };
}

/** Runs inside a savepoint: a refusal throws, undoing the claim and any stock taken. */
async function reserveEveryLine(sp: TxSql, data: Requested, ttlSeconds: number): Promise<Attempt> {
  const { checkoutId } = data;
  const reservation = await insertReservation(sp, { checkoutId, ttlSeconds });
  if (!reservation) {
    const status = await reservationStatusOf(sp, checkoutId);
    return status === "void" ? { kind: "aborted" } : { kind: "already-reserved" };
  }
  const lines = mergeLines(data.lines);
  const variantIds = lines.map((l) => l.variantId);
  const variants = await lockVariantsForSale(sp, variantIds);
  const unsellable = checkSaleability(data.lines, variants);
  if (unsellable) throw new ReservationRefused(unsellable);
  const taken = await takeStock(sp, { reservationId: reservation.id, checkoutId }, lines);
  if (taken.size < lines.length) {
    throw new ReservationRefused(outOfStock(lines, taken, await availableQty(sp, variantIds)));
  }
  return {
    kind: "reserved",
    reservationId: reservation.id,
    expiresAt: reservation.expiresAt,
    lines,
    variants,
  };
}

async function emitReserved(tx: MessageTx, data: Requested, reserved: Reserved) {
  await tx.emit({
    type: "inventory.reserved",
    correlationId: data.checkoutId,
    data: {
      checkoutId: data.checkoutId,
      reservationId: reserved.reservationId,
      expiresAt: isoTimestamp(reserved.expiresAt),
      customerId: data.customerId,
      lines: reserved.lines.map((line) => {
        const variant = reserved.variants.get(line.variantId);
        if (!variant) throw new Error(`variant ${line.variantId} was reserved but not loaded`);
        return {
          variantId: line.variantId,
          productSlug: variant.productSlug,
          vendorId: variant.vendorId,
          sku: variant.sku,
          title: lineTitle(variant.productTitle, variant.variantTitle),
          unitPriceMinor: line.unitPriceMinor,
          qty: line.qty,
        };
      }),
      totalMinor: data.totalMinor,
      currency: data.currency,
    },
  });
}

/** The checkout asked again under a new event id (re-driven): its first answer goes out again. */
async function resendReserved(tx: MessageTx, checkoutId: string) {
  const causes = await causesOfReserved(tx.sql, checkoutId);
  if (causes.length === 0) {
    throw new TerminalError(
      `checkout ${checkoutId} already has a reservation but its inventory.reserved is no longer in the outbox`,
    );
  }
  await resendOutputsOf(tx.sql, causes);
}
