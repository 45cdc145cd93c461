import type { rejectedLineSchema } from "@codflow/shared";
import type { z } from "zod";

export type RejectedLine = z.infer<typeof rejectedLineSchema>;

/**
 * The sentence a customer reads about why their order could not be placed, one clause per
 * line, naming products by the title they saw (the variant id when the replica lacks it).
 */
export function describeRejection(
  lines: readonly RejectedLine[],
  titles: ReadonlyMap<string, string>,
): string {
  const clauses = lines.map((line) => {
    const name = titles.get(line.variantId) ?? `item ${line.variantId}`;
    if (line.reason === "price_changed")
      return `${name} changed price since it was added to the cart`;
    if (line.reason === "product_unavailable") return `${name} is no longer available`;
    return line.availableQty === undefined
      ? `${name} is out of stock`
      : `${name}: ${line.requestedQty ?? "more"} requested, ${line.availableQty} available`;
  });
  return `We could not reserve your items: ${clauses.join("; ")}.`;
}

export const describeOrderFailure = (detail: string) => `We could not create your order: ${detail}`;

export const RESERVATION_EXPIRED_DETAIL =
  "We held your items, but your order could not be completed in time, so they were released. Your cart is unchanged: please try again.";

export const TIMED_OUT_DETAIL =
  "We could not complete your order in time. Your cart is unchanged: please try again.";
