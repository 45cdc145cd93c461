/**
 * Whether a COD request may become a checkout: a pure decision over the request's facts.
 * Phone verification, the account's COD switch and the active-order limit arrive with the
 * customer profile (a later issue) as more facts here; the route gathers them, this decides.
 */
export interface CodRequestFacts {
  paymentMethod: string;
  totalMinor: number;
  currency: string;
}

export interface CodRules {
  maxOrderMinor: number;
}

export type CodRefusal = {
  slug: "payment-method-unsupported" | "cod-limit-exceeded";
  title: string;
  detail: string;
};

export type CodEligibility = { eligible: true } | { eligible: false; refusal: CodRefusal };

export function checkCodEligibility(facts: CodRequestFacts, rules: CodRules): CodEligibility {
  if (facts.paymentMethod !== "cod") {
    return refuse(
      "payment-method-unsupported",
      "Payment method not supported",
      "only cod is offered",
    );
  }
  if (facts.totalMinor <= 0) {
    return refuse(
      "cod-limit-exceeded",
      "Outside the COD limits",
      "a COD order must cost something",
    );
  }
  if (facts.totalMinor > rules.maxOrderMinor) {
    return refuse(
      "cod-limit-exceeded",
      "Outside the COD limits",
      `the total ${facts.totalMinor} ${facts.currency} is above the COD limit of ${rules.maxOrderMinor}`,
    );
  }
  return { eligible: true };
}

const refuse = (slug: CodRefusal["slug"], title: string, detail: string): CodEligibility => ({
  eligible: false,
  refusal: { slug, title, detail },
});
