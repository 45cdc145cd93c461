/**
 * checkout.on-orders-delivered — on `orders.delivered`: the order is over, so its checkout frees
 * the customer's COD active-order slot (deleting an already freed slot does nothing).
 * Emits: nothing.
 * Undone by: nothing — a delivered order stays delivered.
 */
import type { ConsumerSpec } from "@codflow/shared";
import { releaseActiveOrderSlot } from "../db/cod-customers.ts";

export function onOrdersDelivered(): ConsumerSpec<"orders.delivered"> {
  return {
    name: "checkout.on-orders-delivered",
    type: "orders.delivered",
    async handle(event, tx) {
      await releaseActiveOrderSlot(tx.sql, event.data.checkoutId);
    },
  };
}
