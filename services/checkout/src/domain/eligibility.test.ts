import { describe, expect, it } from "vitest";
import { type CodRequestFacts, checkCodEligibility } from "./eligibility.ts";

const rules = { maxOrderMinor: 50_000_00, maxActiveOrders: 3 };
const phone = "+4915112345678";
const facts: CodRequestFacts = {
  paymentMethod: "cod",
  totalMinor: 12_00,
  currency: "EUR",
  phone,
  profile: { codDisabled: false, disabledReason: null, verifiedPhone: phone },
  hasConfirmedCodOrder: false,
  activeOrders: 0,
};

const slugOf = (f: CodRequestFacts) => {
  const decision = checkCodEligibility(f, rules);
  return decision.eligible ? "eligible" : decision.refusal.slug;
};

describe("checkCodEligibility", () => {
  it("accepts a first COD order to the verified phone with a positive total up to the limit", () => {
    expect(checkCodEligibility(facts, rules)).toEqual({ eligible: true });
    expect(slugOf({ ...facts, totalMinor: 50_000_00 })).toBe("eligible");
  });

  it("refuses a total above the COD limit with cod-limit-exceeded", () => {
    expect(slugOf({ ...facts, totalMinor: 50_000_01 })).toBe("cod-limit-exceeded");
  });

  it("refuses a zero total with cod-limit-exceeded", () => {
    expect(slugOf({ ...facts, totalMinor: 0 })).toBe("cod-limit-exceeded");
  });

  it("refuses any payment method but cod", () => {
    expect(slugOf({ ...facts, paymentMethod: "card" })).toBe("payment-method-unsupported");
  });

  it("refuses a disabled account with cod-disabled and the recorded reason", () => {
    const decision = checkCodEligibility(
      { ...facts, profile: { ...facts.profile, codDisabled: true, disabledReason: "fraud" } },
      rules,
    );
    expect(decision).toEqual({
      eligible: false,
      refusal: expect.objectContaining({ slug: "cod-disabled", detail: "fraud" }),
    });
  });

  it("requires a verified phone for the first COD order", () => {
    const unverified = { ...facts, profile: { ...facts.profile, verifiedPhone: null } };
    expect(slugOf(unverified)).toBe("phone-verification-required");
    expect(slugOf({ ...facts, phone: "+4915199999999" })).toBe("phone-verification-required");
  });

  it("lets a customer with a confirmed COD order order to any phone, verified or not", () => {
    const regular = {
      ...facts,
      phone: "+4915199999999",
      profile: { ...facts.profile, verifiedPhone: null },
      hasConfirmedCodOrder: true,
    };
    expect(slugOf(regular)).toBe("eligible");
  });

  it("refuses a fourth active COD order with cod-active-limit", () => {
    expect(slugOf({ ...facts, activeOrders: 2 })).toBe("eligible");
    expect(slugOf({ ...facts, activeOrders: 3 })).toBe("cod-active-limit");
  });

  it("names the refusal no wait would cure before the active-order limit", () => {
    const full = { ...facts, activeOrders: 3 };
    expect(slugOf({ ...full, totalMinor: 50_000_01 })).toBe("cod-limit-exceeded");
    expect(slugOf({ ...full, phone: "+4915199999999" })).toBe("phone-verification-required");
    expect(
      slugOf({ ...full, profile: { ...full.profile, codDisabled: true, verifiedPhone: null } }),
    ).toBe("cod-disabled");
  });
});
