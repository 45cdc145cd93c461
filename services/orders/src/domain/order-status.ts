/**
 * Every status an order can hold (API.md). Only `confirmed` is reached today; the delivery
 * lifecycle and its transition table come with the admin transitions.
 */
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
