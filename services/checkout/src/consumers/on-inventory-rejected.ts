/**
 * checkout.on-inventory-rejected — on `inventory.rejected`: a checkout still processing fails
 * with inventory's reason; the customer reads one sentence naming each rejected line, and the
 * per-line reasons stay available as `failure.lines`. The cart is kept as it is. A batch (a
 * flash sale sends thousands) reads its titles and fails its checkouts in one statement each.
 * Emits: `checkout.failed` (the customer is told why).
 * Undone by: nothing — failed is final and nothing was reserved. An outcome for a checkout
 * already terminal is recorded, not applied.
 */
import type { ConsumerSpec, EventOf, TxSql } from "@codflow/shared";
import { catalogTitles } from "../db/catalog.ts";
import type { CheckoutFailure } from "../db/checkout-outcomes.ts";
import { describeRejection } from "../domain/failure-summary.ts";
import { failCheckout, failCheckoutsOfBatch } from "./fail-checkout.ts";
import type { OutcomeDeps } from "./terminal-outcome.ts";

type Rejected = EventOf<"inventory.rejected">;

export function onInventoryRejected(deps: OutcomeDeps): ConsumerSpec<"inventory.rejected"> {
  return {
    name: "checkout.on-inventory-rejected",
    type: "inventory.rejected",
    async handle(event, tx) {
      const titles = await titlesOf(tx.sql, [event]);
      await failCheckout(tx, deps, event, rejection(event, titles));
    },
    async handleBatch(events, tx) {
      const titles = await titlesOf(tx.sql, events);
      await failCheckoutsOfBatch(
        tx,
        deps,
        events.map((source) => ({ source, failure: rejection(source, titles) })),
      );
    },
  };
}

const titlesOf = (sql: TxSql, events: Rejected[]) =>
  catalogTitles(sql, [
    ...new Set(events.flatMap(({ data }) => data.lines.map((l) => l.variantId))),
  ]);

function rejection({ data }: Rejected, titles: ReadonlyMap<string, string>): CheckoutFailure {
  return {
    checkoutId: data.checkoutId,
    reason: data.reason,
    detail: describeRejection(data.lines, titles),
    lines: data.lines,
  };
}
