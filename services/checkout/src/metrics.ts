import type { Metrics } from "@codflow/shared";

/** checkout's own metrics on the platform registry; created once per process. */
export function createCheckoutMetrics(metrics: Metrics) {
  return {
    lateOutcomes: metrics.counter(
      "codflow_checkout_late_outcomes_total",
      "Outcomes that arrived for a checkout already terminal (recorded, not applied), by event and the checkout's state.",
      ["event", "state"],
    ),
    redrives: metrics.counter(
      "codflow_checkout_redrives_total",
      "Stalled checkouts whose checkout.requested was re-sent.",
      [],
    ),
    timedOut: metrics.counter(
      "codflow_checkouts_timed_out_total",
      "Checkouts failed with timed_out at their deadline.",
      [],
    ),
  };
}

export type CheckoutMetrics = ReturnType<typeof createCheckoutMetrics>;
