/**
 * checkout.on-orders-delivery-failed — on `orders.delivery_failed`: records a COD incident for
 * the order (one per order, however many attempts fail) and disables COD for the customer at
 * COD_AUTO_DISABLE_THRESHOLD incidents within COD_AUTO_DISABLE_WINDOW_DAYS (audited, actor
 * `system`). The order keeps its active-order slot: it is still on its way.
 * Emits: nothing.
 * Undone by: an admin lifting the disable (PUT /v1/admin/customers/:userId/cod); incidents from
 * before the lift stop counting.
 */
import type { ConsumerSpec } from "@codflow/shared";
import { type CodIncidentDeps, recordIncidentAndJudge } from "./cod-incident.ts";

export function onOrdersDeliveryFailed(
  deps: CodIncidentDeps,
): ConsumerSpec<"orders.delivery_failed"> {
  return {
    name: "checkout.on-orders-delivery-failed",
    type: "orders.delivery_failed",
    async handle(event, tx) {
      const { orderId, orderNumber, customerId, at } = event.data;
      await recordIncidentAndJudge(tx, deps, {
        orderId,
        orderNumber,
        customerId,
        kind: "delivery_failed",
        at,
        eventId: event.id,
      });
    },
  };
}
