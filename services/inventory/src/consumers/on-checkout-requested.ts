/**
 * inventory.reserve-stock — on `checkout.requested`, reserves EVERY line of the checkout or NONE.
 * A batch of checkouts is reserved set-based in one transaction, exactly as one by one in
 * delivery order (a single message is a batch of one):
 *   1. claim every checkout at once (unique reservations.checkout_id: a checkout never reserves
 *      twice; one that already has a reservation gets its `inventory.reserved` re-sent instead,
 *      unless it is the `void` tombstone of a checkout aborted first: then nothing happens),
 *   2. share-lock all their variants and check each checkout is sellable at the price and
 *      currency the customer saw (else `product_unavailable` / `price_changed`, per line),
 *   3. only then lock the stock rows of every variant involved, once, in variant id order, give
 *      free units to the checkouts in delivery order, all or none each (else `out_of_stock`, each
 *      short line with requested and available qty), and write every stock delta, reservation
 *      line and ledger row in one statement; a refused checkout's claim is removed.
 * Emits `inventory.reserved` (line snapshots, expiry, customer and totals for orders; the phone
 * and address reach orders only through checkout.requested) or `inventory.rejected` (reason +
 * per-line details), one per checkout.
 * Undone by: `checkout.failed` (inventory.abort-checkout), `orders.failed`
 * (inventory.release-reservation), `orders.cancelled` (inventory.cancel-commitment),
 * `orders.returned` (inventory.restock-return), or expiry (the expiry sweeper).
 */
import {
  type ConsumerSpec,
  type EventData,
  type NewEvent,
  resendOutputsOf,
  TerminalError,
  type TxSql,
} from "@codflow/shared";
import {
  type ClaimedReservation,
  causesOfReserved,
  claimReservations,
  lockFreeStock,
  lockVariantsForSale,
  reservationStatusesOf,
  type VariantForSale,
  writeReservations,
} from "../db/reserve-stock.ts";
import { isoTimestamp } from "../db/timestamps.ts";
import type { Rejection, RequestedLine } from "../domain/reservation.ts";
import { lineTitle } from "../domain/sellable.ts";
import { planReservations } from "../domain/stock-allocation.ts";
import type { InventoryMetrics } from "../metrics.ts";

type Requested = EventData<"checkout.requested">;

/** What one checkout.requested came to; `answered` covers re-sent, aborted and repeated ones. */
type Outcome =
  | {
      kind: "reserved";
      reservation: ClaimedReservation;
      lines: RequestedLine[];
      variants: ReadonlyMap<string, VariantForSale>;
    }
  | { kind: "refused"; rejection: Rejection }
  | { kind: "answered" };

export function onCheckoutRequested({
  reservationTtlSeconds,
  metrics,
}: {
  reservationTtlSeconds: number;
  /** Counts `codflow_reservations_total{result,reason}` after commit when given. */
  metrics?: InventoryMetrics;
}): ConsumerSpec<"checkout.requested"> {
  const count = (outcome: Outcome) => {
    if (outcome.kind === "reserved") metrics?.reservations.inc({ result: "reserved", reason: "" });
    if (outcome.kind === "refused") {
      metrics?.reservations.inc({ result: "rejected", reason: outcome.rejection.reason });
    }
  };
  return {
    name: "inventory.reserve-stock",
    type: "checkout.requested",
    async handle({ data }, tx) {
      const [outcome] = await reserveCheckouts(tx.sql, [data], reservationTtlSeconds);
      if (!outcome) return;
      tx.afterCommit(() => count(outcome));
      const answer = answerOf(data, outcome);
      if (answer) await tx.emit(answer);
    },
    async handleBatch(events, tx) {
      const requests = events.map((e) => e.data);
      const outcomes = await reserveCheckouts(tx.sql, requests, reservationTtlSeconds);
      tx.afterCommit(() => outcomes.forEach(count));
      for (const [i, event] of events.entries()) {
        const answer = answerOf(event.data, outcomes[i] as Outcome);
        if (answer) tx.emitFor(event, answer);
      }
    },
  };
}

/**
 * Reserves the checkouts in the caller's transaction, one outcome per request in order. The
 * stock rows are locked last, after every statement that does not need them, so they are held
 * for the lock, the write, the outbox insert and the commit only.
 */
async function reserveCheckouts(
  sql: TxSql,
  requests: Requested[],
  ttlSeconds: number,
): Promise<Outcome[]> {
  const checkoutIds = [...new Set(requests.map((r) => r.checkoutId))];
  const claimed = await claimReservations(sql, { checkoutIds, ttlSeconds });
  await resendReserved(
    sql,
    checkoutIds.filter((id) => !claimed.has(id)),
  );
  const fresh = requests.filter((r) => claimed.has(r.checkoutId));
  if (fresh.length === 0) return requests.map(() => ({ kind: "answered" }));

  const variants = await lockVariantsForSale(sql, [
    ...new Set(fresh.flatMap((r) => r.lines.map((l) => l.variantId))),
  ]);
  const free = variants.size > 0 ? await lockFreeStock(sql, [...variants.keys()]) : new Map();
  const decisions = planReservations(fresh, variants, free).decisions.values();

  const outcomes = requests.map((request): Outcome => {
    const reservation = claimed.get(request.checkoutId);
    if (!reservation) return { kind: "answered" };
    const decision = decisions.next().value;
    if (!decision) throw new Error(`no reservation decision for ${request.checkoutId}`);
    if (decision.kind === "refuse") return { kind: "refused", rejection: decision.rejection };
    if (decision.kind === "already-reserved") return { kind: "answered" };
    return { kind: "reserved", reservation, lines: decision.lines, variants };
  });
  const reserved = outcomes.flatMap((o) =>
    o.kind === "reserved"
      ? [{ reservationId: o.reservation.id, checkoutId: o.reservation.checkoutId, lines: o.lines }]
      : [],
  );
  const reservedCheckouts = new Set(reserved.map((r) => r.checkoutId));
  const refusedReservationIds = [...claimed.values()]
    .filter((c) => !reservedCheckouts.has(c.checkoutId))
    .map((c) => c.id);
  await writeReservations(sql, { reserved, refusedReservationIds });
  return outcomes;
}

/**
 * Checkouts that already had a reservation asked again (re-driven under a new event id): their
 * first answers go out again; an aborted checkout's `void` tombstone answers nothing.
 */
async function resendReserved(sql: TxSql, checkoutIds: string[]) {
  if (checkoutIds.length === 0) return;
  const statuses = await reservationStatusesOf(sql, checkoutIds);
  const reservedBefore = checkoutIds.filter((id) => statuses.get(id) !== "void");
  if (reservedBefore.length === 0) return;
  const causes = await causesOfReserved(sql, reservedBefore);
  const lost = reservedBefore.find((id) => !causes.has(id));
  if (lost) {
    throw new TerminalError(
      `checkout ${lost} already has a reservation but its inventory.reserved is no longer in the outbox`,
    );
  }
  await resendOutputsOf(sql, [...causes.values()].flat());
}

/** The event that answers the request, if this outcome answers it now. */
function answerOf(data: Requested, outcome: Outcome): NewEvent | undefined {
  if (outcome.kind === "refused") {
    return {
      type: "inventory.rejected",
      correlationId: data.checkoutId,
      data: { checkoutId: data.checkoutId, ...outcome.rejection },
    };
  }
  if (outcome.kind === "answered") return undefined;
  const { reservation, lines, variants } = outcome;
  return {
    type: "inventory.reserved",
    correlationId: data.checkoutId,
    data: {
      checkoutId: data.checkoutId,
      reservationId: reservation.id,
      expiresAt: isoTimestamp(reservation.expiresAt),
      customerId: data.customerId,
      lines: lines.map((line) => {
        const variant = variants.get(line.variantId);
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
  };
}
