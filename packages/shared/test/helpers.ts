import { randomUUID } from "node:crypto";
import type { EventData } from "../src/index.ts";

export const requestedData = (checkoutId = randomUUID()): EventData<"checkout.requested"> => ({
  checkoutId,
  customerId: "customer-1",
  customerEmail: "customer-1@codflow.test",
  lines: [{ variantId: randomUUID(), qty: 1, unitPriceMinor: 1000, currency: "EUR" }],
  totalMinor: 1000,
  currency: "EUR",
  phone: "+15555550100",
  shippingAddress: { name: "A", line1: "B", city: "C", postalCode: "1", country: "DE" },
});
