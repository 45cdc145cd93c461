/**
 * checkout.on-orders-returned — on `orders.returned` (the parcel came back unpaid): frees the
 * checkout's COD active-order slot and records a COD incident for the order (once per order: a
 * return after failed attempts adds none), disabling COD for the customer at the threshold.
 * Emits: nothing.
 * Undone by: an admin lifting the disable; the slot stays free (the order is over).
 */
import type { ConsumerSpec } from "@codflow/shared";
import { releaseActiveOrderSlot } from "../db/cod-customers.ts";
import { type CodIncidentDeps, recordIncidentAndJudge } from "./cod-incident.ts";

export function onOrdersReturned(deps: CodIncidentDeps): ConsumerSpec<"orders.returned"> {
  return {
    name: "checkout.on-orders-returned",
    type: "orders.returned",
    async handle(event, tx) {
      const { checkoutId, orderId, orderNumber, customerId, at } = event.data;
      await releaseActiveOrderSlot(tx.sql, checkoutId);
      await recordIncidentAndJudge(tx, deps, {
        orderId,
        orderNumber,
        customerId,
        kind: "returned",
        at,
        eventId: event.id,
      });
    },
  };
}
