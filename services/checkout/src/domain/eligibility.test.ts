import { describe, expect, it } from "vitest";
import { checkCodEligibility } from "./eligibility.ts";

const rules = { maxOrderMinor: 50_000_00 };
const facts = { paymentMethod: "cod", totalMinor: 12_00, currency: "EUR" };

describe("checkCodEligibility", () => {
  it("accepts a COD order with a positive total up to the limit", () => {
    expect(checkCodEligibility(facts, rules)).toEqual({ eligible: true });
    expect(checkCodEligibility({ ...facts, totalMinor: 50_000_00 }, rules)).toEqual({
      eligible: true,
    });
  });

  it("refuses a total above the COD limit with cod-limit-exceeded", () => {
    const decision = checkCodEligibility({ ...facts, totalMinor: 50_000_01 }, rules);
    expect(decision).toMatchObject({ eligible: false, refusal: { slug: "cod-limit-exceeded" } });
  });

  it("refuses a zero total with cod-limit-exceeded", () => {
    const decision = checkCodEligibility({ ...facts, totalMinor: 0 }, rules);
    expect(decision).toMatchObject({ eligible: false, refusal: { slug: "cod-limit-exceeded" } });
  });

  it("refuses any payment method but cod", () => {
    const decision = checkCodEligibility({ ...facts, paymentMethod: "card" }, rules);
    expect(decision).toMatchObject({
      eligible: false,
      refusal: { slug: "payment-method-unsupported" },
    });
  });
});
