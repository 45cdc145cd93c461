import type { DeliveryFailureReason, EventData } from "@codflow/shared";
import { formatMoney } from "./money.ts";
import { type RenderedEmail, SIGNATURE } from "./templates.ts";

const email = (subject: string, lines: string[]): RenderedEmail => ({
  subject,
  text: ["Hello,", "", ...lines, "", SIGNATURE, ""].join("\n"),
});

/** The parcel left: who carries it and the waybill to track it, and the cash to have ready. */
export function renderOrderShipped(data: EventData<"orders.shipped">): RenderedEmail {
  return email(`Your order ${data.orderNumber} is on its way`, [
    `your order ${data.orderNumber} has shipped with ${data.courier}.`,
    `Waybill number: ${data.awb}`,
    "",
    "You pay in cash when it arrives: please have the order total ready for the courier.",
  ]);
}

/** Why the courier could not hand the parcel over, in words a customer understands. */
const FAILURE_EXPLANATIONS: Record<DeliveryFailureReason, string> = {
  customer_unavailable: "nobody was there to receive it.",
  customer_refused: "the parcel was refused at the door.",
  address_issue: "the courier could not find the address.",
  cash_not_ready: "the cash for the order was not ready.",
  rescheduled_by_customer: "the delivery was moved to another day at your request.",
  other: "something prevented the delivery.",
};

/** One failed delivery attempt (an email per attempt) and what happens next. */
export function renderDeliveryFailed(data: EventData<"orders.delivery_failed">): RenderedEmail {
  return email(`We could not deliver your order ${data.orderNumber}`, [
    `the courier tried to deliver your order ${data.orderNumber} (attempt ${data.attempt}), but ${FAILURE_EXPLANATIONS[data.reason]}`,
    "",
    "The courier will try again. If the order cannot be delivered, it goes back to the seller",
    "and you pay nothing.",
  ]);
}

/** The order arrived and the cash was handed over: a receipt for the amount. */
export function renderOrderDelivered(data: EventData<"orders.delivered">): RenderedEmail {
  return email(`Your order ${data.orderNumber} was delivered`, [
    `your order ${data.orderNumber} was delivered.`,
    `Cash paid to the courier: ${formatMoney(data.cashCollectedMinor, data.currency)}`,
    "",
    "If that is not the amount you paid, please reply to this email.",
  ]);
}

/** The order was cancelled by the customer or by us; nothing is owed. */
export function renderOrderCancelled(data: EventData<"orders.cancelled">): RenderedEmail {
  const who = data.actorRole === "customer" ? "as you asked" : "by our team";
  return email(`Your order ${data.orderNumber} is cancelled`, [
    `your order ${data.orderNumber} was cancelled ${who}.`,
    "It will not be delivered and you owe nothing.",
  ]);
}
