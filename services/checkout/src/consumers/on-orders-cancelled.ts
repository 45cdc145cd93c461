/**
 * checkout.on-orders-cancelled — on `orders.cancelled` (by the customer, ops, or the saga's own
 * compensation): frees the checkout's COD active-order slot (a slot already freed, e.g. by the
 * checkout's failure, stays free).
 * Emits: nothing.
 * Undone by: nothing — a cancelled order stays cancelled.
 */
import type { ConsumerSpec } from "@codflow/shared";
import { releaseActiveOrderSlot } from "../db/cod-customers.ts";

export function onOrdersCancelled(): ConsumerSpec<"orders.cancelled"> {
  return {
    name: "checkout.on-orders-cancelled",
    type: "orders.cancelled",
    async handle(event, tx) {
      await releaseActiveOrderSlot(tx.sql, event.data.checkoutId);
    },
  };
}
