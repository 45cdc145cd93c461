import { v7 as uuidv7 } from "uuid";
import type { ReservedLine } from "../events/common.ts";

/** Two reserved lines of `vendorId`: 2 × 12.50 + 1 × 9.99 = 34.99 EUR (3499 minor units). */
export const shirtAndSocks = (vendorId = uuidv7()): ReservedLine[] => [
  {
    variantId: uuidv7(),
    productSlug: "blue-shirt",
    vendorId,
    sku: "SHIRT-BLUE-M",
    title: "Blue shirt (M)",
    unitPriceMinor: 1250,
    qty: 2,
  },
  {
    variantId: uuidv7(),
    productSlug: "socks",
    vendorId,
    sku: "SOCKS-1",
    title: "Socks",
    unitPriceMinor: 999,
    qty: 1,
  },
];
