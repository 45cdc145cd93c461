/**
 * checkout.on-inventory-committed — on `inventory.committed` (the stock is committed to a live
 * order: the saga's success signal): a checkout still processing becomes confirmed with the
 * order's id and number, and exactly the ordered quantities leave the cart (lines added, or
 * quantity added, since the checkout began stay). A batch confirms all its checkouts and empties
 * their carts in the same three statements as one.
 * Emits: `checkout.confirmed` (the customer is told).
 * Undone by: `orders.cancelled` cancels the order itself; the checkout stays the record that
 * an order was made. An outcome for a checkout already terminal is recorded, not applied (orders
 * cancels that order on the `checkout.failed` it already received).
 */
import {
  type ConsumerSpec,
  type EventOf,
  type NewEvent,
  RetryableError,
  type TxSql,
} from "@codflow/shared";
import { markCheckoutsConfirmed, removeOrderedCartLines } from "../db/checkout-outcomes.ts";
import { type OutcomeDeps, reportOutcomeNotApplied } from "./terminal-outcome.ts";

type Committed = EventOf<"inventory.committed">;

export function onInventoryCommitted(deps: OutcomeDeps): ConsumerSpec<"inventory.committed"> {
  return {
    name: "checkout.on-inventory-committed",
    type: "inventory.committed",
    async handle(event, tx) {
      const confirmed = await confirmCheckouts([event], tx.sql, deps);
      for (const { ageSeconds } of confirmed) {
        tx.afterCommit(() => deps.metrics.settled("confirmed", "", ageSeconds));
      }
      for (const { output } of confirmed) await tx.emit(output);
    },
    async handleBatch(events, tx) {
      if (new Set(events.map((e) => e.data.checkoutId)).size < events.length) {
        // The second outcome of a checkout must find it confirmed by the first: one by one.
        throw new RetryableError("a checkout appears twice in the batch");
      }
      const confirmed = await confirmCheckouts(events, tx.sql, deps);
      tx.afterCommit(() => {
        for (const { ageSeconds } of confirmed) deps.metrics.settled("confirmed", "", ageSeconds);
      });
      for (const { source, output } of confirmed) tx.emitFor(source, output);
    },
  };
}

/** Confirms the distinct checkouts of `events` still processing; reports the others. */
async function confirmCheckouts(events: Committed[], sql: TxSql, deps: OutcomeDeps) {
  const rows = await markCheckoutsConfirmed(
    sql,
    events.map(({ data }) => data),
  );
  const byCheckout = new Map(rows.map((row) => [row.checkoutId, row]));
  const confirmed: { source: Committed; ageSeconds: number; output: NewEvent }[] = [];
  for (const event of events) {
    const { checkoutId, orderId, orderNumber, items, totalMinor, currency } = event.data;
    const row = byCheckout.get(checkoutId);
    if (!row) {
      await reportOutcomeNotApplied(sql, deps, { checkoutId, event, incoming: { orderId } });
      continue;
    }
    confirmed.push({
      source: event,
      ageSeconds: Number(row.ageSeconds),
      output: {
        type: "checkout.confirmed",
        correlationId: checkoutId,
        data: {
          checkoutId,
          customerId: row.customerId,
          customerEmail: row.customerEmail,
          orderId,
          orderNumber,
          items,
          totalMinor,
          currency,
        },
      },
    });
  }
  if (confirmed.length > 0) {
    await removeOrderedCartLines(
      sql,
      confirmed.map(({ source }) => source.data.checkoutId),
    );
  }
  return confirmed;
}
