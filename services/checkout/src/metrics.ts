import { type Logger, type Metrics, metricsOnce, type Sql } from "@codflow/shared";

export type CheckoutOutcome = "accepted" | "confirmed" | "failed";

/** accepted→terminal latency buckets (seconds), from the metrics contract. */
const DURATION_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

function build(metrics: Metrics) {
  let source: { sql: Sql; logger: Logger } | undefined;
  const processing = metrics.scrapeGauges(
    {
      count: ["codflow_checkouts_processing", "Checkouts accepted and not yet terminal."],
      oldestAge: [
        "codflow_checkout_oldest_processing_age_seconds",
        "Age of the oldest checkout still processing (0 when none).",
      ],
    },
    async () => {
      if (!source) return undefined;
      const [row] = await source.sql<{ count: number; oldestAge: number }[]>`
        select count(*)::int as count,
               coalesce(extract(epoch from now() - min(created_at)), 0)::float8 as "oldestAge"
        from checkouts where status = 'processing'`;
      return row && { count: Number(row.count), oldestAge: Number(row.oldestAge) };
    },
    () => source?.logger,
  );
  const checkouts = metrics.counter(
    "codflow_checkouts_total",
    "Checkouts by outcome (accepted, confirmed, failed) and failure reason (empty unless failed).",
    ["outcome", "reason"],
  );
  const duration = metrics.histogram(
    "codflow_checkout_duration_seconds",
    "Time from acceptance to the terminal outcome (confirmed or failed).",
    ["outcome"],
    DURATION_BUCKETS,
  );
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
    deadline: metrics.gauge(
      "codflow_checkout_deadline_seconds",
      "The configured CHECKOUT_DEADLINE_SECONDS: a checkout still processing after it is failed with timed_out.",
      [],
    ),
    codRefusals: metrics.counter(
      "codflow_checkout_cod_refusals_total",
      "Checkouts refused by a COD rule before acceptance, by problem slug (cod-disabled, phone-verification-required, cod-limit-exceeded, cod-active-limit, payment-method-unsupported).",
      ["slug"],
    ),
    acceptBatchSize: metrics.histogram(
      "codflow_checkout_accept_batch_size",
      "Checkout requests accepted (or refused) together in one transaction: 1 when idle, more under load.",
      [],
      [1, 2, 4, 8, 16, 32, 64],
    ),
    acceptQueued: metrics.gauge(
      "codflow_checkout_accept_queued",
      "Checkout requests waiting for an acceptance transaction (all CHECKOUT_ACCEPT_CONCURRENCY are in flight).",
      [],
    ),
    rateLimited: metrics.counter(
      "codflow_rate_limited_total",
      "Requests answered 429 rate-limited, by limiter (checkout:ip, checkout:customer, and the OTP routes' per-IP and per-customer limiters).",
      ["limiter"],
    ),
    checkouts,
    duration,
    processing,
    /** Gives the processing gauges their database (createApp does). */
    observe(sql: Sql, logger: Logger) {
      source = { sql, logger };
    },
    /** Call after the acceptance committed (a new checkout, not a replay). */
    accepted() {
      checkouts.inc({ outcome: "accepted", reason: "" });
    },
    /** Call after the terminal outcome committed; `ageSeconds` = completed_at - created_at. */
    settled(outcome: "confirmed" | "failed", reason: string, ageSeconds: number) {
      checkouts.inc({ outcome, reason: outcome === "failed" ? reason : "" });
      duration.observe({ outcome }, ageSeconds);
    },
  };
}

/**
 * checkout's own metrics on the platform registry; the same object for a registry however often
 * it is asked for (the app and the consumers share it).
 */
export const createCheckoutMetrics = metricsOnce(build);

export type CheckoutMetrics = ReturnType<typeof createCheckoutMetrics>;
