import { type EventData, failureReasonSchema } from "@codflow/shared";
import { describe, expect, it } from "vitest";
import { renderCheckoutFailed, renderOrderConfirmed } from "./templates.ts";

const confirmed: EventData<"checkout.confirmed"> = {
  checkoutId: "0190f2a0-0000-7000-8000-000000000001",
  customerId: "customer-1",
  customerEmail: "ada@example.com",
  orderId: "0190f2a0-0000-7000-8000-000000000002",
  orderNumber: "CF-000042",
  items: [
    {
      variantId: "0190f2a0-0000-7000-8000-000000000003",
      productSlug: "blue-shirt",
      vendorId: "0190f2a0-0000-7000-8000-000000000004",
      sku: "SHIRT-BLUE-M",
      title: "Blue shirt (M)",
      unitPriceMinor: 1250,
      qty: 2,
    },
    {
      variantId: "0190f2a0-0000-7000-8000-000000000005",
      productSlug: "socks",
      vendorId: "0190f2a0-0000-7000-8000-000000000004",
      sku: "SOCKS-1",
      title: "Socks",
      unitPriceMinor: 999,
      qty: 1,
    },
  ],
  totalMinor: 3499,
  currency: "EUR",
};

describe("order-confirmed email", () => {
  it("names the order number in the subject and the text", () => {
    const email = renderOrderConfirmed(confirmed);
    expect(email.subject).toBe("Your order CF-000042 is confirmed");
    expect(email.text).toContain("thank you for your order CF-000042");
  });

  it("lists every item with its quantity, unit price and line total", () => {
    const { text } = renderOrderConfirmed(confirmed);
    expect(text).toContain("- Blue shirt (M): 2 × EUR 12.50 = EUR 25.00");
    expect(text).toContain("- Socks: 1 × EUR 9.99 = EUR 9.99");
  });

  it("states the total to pay in cash on delivery in the order's currency", () => {
    const { text } = renderOrderConfirmed({ ...confirmed, currency: "JPY", totalMinor: 3499 });
    expect(text).toContain("Total to pay in cash on delivery: JPY 3,499");
  });
});

describe("checkout-failed email", () => {
  it.each(failureReasonSchema.options)(
    "explains %s in plain words, without the operator detail",
    (reason) => {
      const email = renderCheckoutFailed({
        checkoutId: confirmed.checkoutId,
        customerId: "customer-1",
        customerEmail: "ada@example.com",
        reason,
        detail: "invalid inventory.reserved data: lines too_small",
      });
      expect(email.subject).toBe("We could not place your order");
      expect(email.text).toMatch(/we could not place your order: [a-z][^_]+\.\n/);
      expect(email.text).not.toContain(reason);
      expect(email.text).not.toContain("inventory.reserved");
      expect(email.text).toContain(`Reference: ${confirmed.checkoutId}`);
    },
  );

  it("tells the customer the stock ran out when it did", () => {
    const email = renderCheckoutFailed({
      checkoutId: confirmed.checkoutId,
      customerId: "customer-1",
      customerEmail: null,
      reason: "out_of_stock",
      detail: "",
    });
    expect(email.text).toContain("no longer in stock in the quantity you asked for");
  });
});
