/** Every status an order can hold (API.md); the moves between them are LIFECYCLE (lifecycle.ts). */
export const ORDER_STATUSES = [
  "confirmed",
  "shipped",
  "out_for_delivery",
  "delivered",
  "delivery_failed",
  "rto_initiated",
  "returned",
  "cancelled",
] as const;

export type OrderStatus = (typeof ORDER_STATUSES)[number];
