import type { ActorRole, EventData, NewEvent } from "@codflow/shared";
import type { DeliveryChange } from "./lifecycle.ts";
import type { OrderStatus } from "./order-status.ts";

/** What the lifecycle events and the audit row need to know about the order moved. */
export interface MovedOrder {
  id: string;
  number: string;
  checkoutId: string;
  reservationId: string;
  customerId: string;
  customerEmail: string | null;
  totalMinor: number;
  currency: string;
}

/** The data a move adds to its audit row: what the actor said and what it changed. */
export function auditData(order: MovedOrder, change: DeliveryChange): Record<string, unknown> {
  switch (change.kind) {
    case "ship":
      return { courier: change.courier, awb: change.awb };
    case "dispatch":
      return { attempt: change.attempt };
    case "deliver":
      return {
        cashCollectedMinor: change.cashCollectedMinor,
        totalMinor: order.totalMinor,
        cashMismatch: change.cashMismatch,
      };
    case "fail":
      return { reason: change.reason, attempt: change.attempt };
    case "none":
      return change.reason === undefined ? {} : { reason: change.reason };
  }
}

/** The `orders.<to>` event of a move, for the outbox. */
export function lifecycleEvent(
  order: MovedOrder,
  {
    to,
    change,
    actorRole,
    at,
  }: { to: OrderStatus; change: DeliveryChange; actorRole: ActorRole; at: string },
): NewEvent {
  const base = {
    orderId: order.id,
    orderNumber: order.number,
    checkoutId: order.checkoutId,
    reservationId: order.reservationId,
    customerId: order.customerId,
    customerEmail: order.customerEmail,
    actorRole,
    at,
  };
  const event = <T extends NewEvent["type"]>(type: T, data: EventData<T>): NewEvent => ({
    type,
    data,
    correlationId: order.checkoutId,
  });
  switch (change.kind) {
    case "ship":
      return event("orders.shipped", { ...base, courier: change.courier, awb: change.awb });
    case "dispatch":
      return event("orders.out_for_delivery", { ...base, attempt: change.attempt });
    case "deliver":
      return event("orders.delivered", {
        ...base,
        cashCollectedMinor: change.cashCollectedMinor,
        totalMinor: order.totalMinor,
        currency: order.currency,
        cashMismatch: change.cashMismatch,
      });
    case "fail":
      return event("orders.delivery_failed", {
        ...base,
        reason: change.reason,
        attempt: change.attempt,
      });
    case "none":
      if (to === "cancelled") {
        return event("orders.cancelled", {
          ...base,
          reason: change.reason ?? `cancelled by ${actorRole}`,
        });
      }
      if (to === "rto_initiated") return event("orders.rto_initiated", base);
      if (to === "returned") return event("orders.returned", base);
      throw new Error(`no lifecycle event for a move to ${to}`);
  }
}
