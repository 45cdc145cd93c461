import type { EventData, FailureReason } from "@codflow/shared";
import { formatMoney } from "./money.ts";

export const TEMPLATES = {
  orderConfirmed: "order-confirmed",
  checkoutFailed: "checkout-failed",
  orderShipped: "order-shipped",
  deliveryFailed: "delivery-failed",
  orderDelivered: "order-delivered",
  orderCancelled: "order-cancelled",
} as const;

export type TemplateName = (typeof TEMPLATES)[keyof typeof TEMPLATES];

export interface RenderedEmail {
  subject: string;
  text: string;
}

export const SIGNATURE = "— codflow";

/** The order confirmation: number, every item, and the total to pay in cash on delivery. */
export function renderOrderConfirmed(data: EventData<"checkout.confirmed">): RenderedEmail {
  const money = (minor: number) => formatMoney(minor, data.currency);
  const items = data.items.map(
    (item) =>
      `- ${item.title}: ${item.qty} × ${money(item.unitPriceMinor)} = ${money(item.qty * item.unitPriceMinor)}`,
  );
  return {
    subject: `Your order ${data.orderNumber} is confirmed`,
    text: [
      "Hello,",
      "",
      `thank you for your order ${data.orderNumber}. Here is what you ordered:`,
      "",
      ...items,
      "",
      `Total to pay in cash on delivery: ${money(data.totalMinor)}`,
      "",
      "Please have the amount ready when the courier arrives. We will email you again when your",
      "order ships.",
      "",
      SIGNATURE,
      "",
    ].join("\n"),
  };
}

/** Why a checkout failed, in words a customer understands, and what they can do about it. */
const FAILURE_EXPLANATIONS: Record<FailureReason, { why: string; next: string }> = {
  out_of_stock: {
    why: "some items in your cart are no longer in stock in the quantity you asked for.",
    next: "Please lower the quantity or remove those items, then place your order again.",
  },
  product_unavailable: {
    why: "some items in your cart are no longer sold.",
    next: "Please remove them from your cart, then place your order again.",
  },
  price_changed: {
    why: "the price of some items changed after you added them to your cart.",
    next: "Please check the new prices in your cart, then place your order again.",
  },
  reservation_expired: {
    why: "we could not hold your items long enough to finish your order.",
    next: "Please place your order again.",
  },
  order_failed: {
    why: "something went wrong on our side while we were creating your order.",
    next: "Please place your order again in a few minutes.",
  },
  timed_out: {
    why: "it took us too long to process your order.",
    next: "Please place your order again in a few minutes.",
  },
};

/**
 * The failed-checkout notice. The event's `detail` is for operators and stays out of the email;
 * the checkout id is there so support can find it.
 */
export function renderCheckoutFailed(data: EventData<"checkout.failed">): RenderedEmail {
  const { why, next } = FAILURE_EXPLANATIONS[data.reason];
  return {
    subject: "We could not place your order",
    text: [
      "Hello,",
      "",
      `we could not place your order: ${why}`,
      next,
      "",
      "You have not been charged, and the items are still in your cart.",
      "",
      `Reference: ${data.checkoutId}`,
      "",
      SIGNATURE,
      "",
    ].join("\n"),
  };
}
