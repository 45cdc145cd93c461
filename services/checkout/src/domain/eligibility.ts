/**
 * Whether a COD request may become a checkout: a pure decision over the request's facts and the
 * customer's COD profile. The route gathers the facts (under the profile's row lock), this decides.
 */
export interface CodRequestFacts {
  paymentMethod: string;
  totalMinor: number;
  currency: string;
  /** The phone the checkout names. */
  phone: string;
  profile: {
    codDisabled: boolean;
    disabledReason: string | null;
    verifiedPhone: string | null;
  };
  /** Whether one of this customer's COD checkouts was ever confirmed. */
  hasConfirmedCodOrder: boolean;
  /** COD checkouts accepted and not yet failed, delivered, cancelled or returned. */
  activeOrders: number;
}

export interface CodRules {
  maxOrderMinor: number;
  maxActiveOrders: number;
}

export const COD_REFUSAL_SLUGS = [
  "payment-method-unsupported",
  "cod-disabled",
  "phone-verification-required",
  "cod-limit-exceeded",
  "cod-active-limit",
] as const;

export type CodRefusal = {
  slug: (typeof COD_REFUSAL_SLUGS)[number];
  title: string;
  detail: string;
};

export type CodEligibility = { eligible: true } | { eligible: false; refusal: CodRefusal };

/**
 * Refusals that no wait would cure come first (payment method, a disabled account, an unproven
 * phone, the order value); the active-order limit, which frees up with deliveries, comes last.
 */
export function checkCodEligibility(facts: CodRequestFacts, rules: CodRules): CodEligibility {
  if (facts.paymentMethod !== "cod") {
    return refuse(
      "payment-method-unsupported",
      "Payment method not supported",
      "only cod is offered",
    );
  }
  if (facts.profile.codDisabled) {
    return refuse(
      "cod-disabled",
      "Cash on delivery is disabled for this account",
      facts.profile.disabledReason ?? "contact support",
    );
  }
  if (!facts.hasConfirmedCodOrder) {
    const { verifiedPhone } = facts.profile;
    if (verifiedPhone === null) {
      return refuse(
        "phone-verification-required",
        "Phone verification required",
        "verify your phone number before your first cash-on-delivery order",
      );
    }
    if (verifiedPhone !== facts.phone) {
      return refuse(
        "phone-verification-required",
        "Phone verification required",
        "your first cash-on-delivery order must use the phone number you verified",
      );
    }
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
  if (facts.activeOrders >= rules.maxActiveOrders) {
    return refuse(
      "cod-active-limit",
      "Too many open COD orders",
      `you have ${facts.activeOrders} cash-on-delivery orders open (at most ${rules.maxActiveOrders}); ` +
        "place the next one when one of them is delivered or cancelled",
    );
  }
  return { eligible: true };
}

const refuse = (slug: CodRefusal["slug"], title: string, detail: string): CodEligibility => ({
  eligible: false,
  refusal: { slug, title, detail },
});
