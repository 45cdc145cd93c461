import type { EventData } from "@codflow/shared";

type Reserved = EventData<"inventory.reserved">;

export type OrderCheck = { ok: true } | { ok: false; reason: string };

/**
 * What orders refuses to turn into an order, whatever inventory sent: a total that is not the
 * sum of its lines. A refusal is final (the same event will never pass), so it dead-letters.
 */
export function checkReservedOrder({ lines, totalMinor }: Reserved): OrderCheck {
  const linesTotal = lines.reduce((sum, line) => sum + line.qty * line.unitPriceMinor, 0);
  if (!Number.isSafeInteger(linesTotal)) {
    return { ok: false, reason: "the sum of the lines is too large to represent" };
  }
  if (linesTotal !== totalMinor) {
    return {
      ok: false,
      reason: `total ${totalMinor} is not the sum of the lines (${linesTotal})`,
    };
  }
  return { ok: true };
}
