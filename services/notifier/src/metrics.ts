import { type Logger, type Metrics, metricsOnce, type Sql } from "@codflow/shared";
import { TEMPLATES } from "./domain/templates.ts";

const NOTIFICATION_RESULTS = ["sent", "retry", "failed"] as const;
export type NotificationResult = (typeof NOTIFICATION_RESULTS)[number];
const SMS_RESULTS = ["sent", "retry", "failed", "expired"] as const;

function build(metrics: Metrics) {
  let source: { sql: Sql; logger: Logger } | undefined;
  const pending = metrics.scrapeGauges(
    {
      count: [
        "codflow_notifications_pending",
        "Emails queued and not yet sent or given up (status pending).",
      ],
    },
    async () => {
      if (!source) return undefined;
      const [row] = await source.sql<{ count: number }[]>`
        select count(*)::int as count from notifications where status = 'pending'`;
      return row && { count: Number(row.count) };
    },
    () => source?.logger,
  );
  const notifications = metrics.counter(
    "codflow_notifications_total",
    "Emails by template and result (sent, retry: an attempt failed and will be retried, failed: gave up).",
    ["template", "result"],
  );
  const sms = metrics.counter(
    "codflow_sms_total",
    "Verification SMS by result (sent, retry: the gateway failed and the event will be redelivered, failed: dead-lettered, expired: the code expired before it could be sent).",
    ["result"],
  );
  // Every series exists at 0 from the start, so `increase()` sees the first failure after a
  // restart (a series born at 1 has no earlier sample to increase from).
  for (const template of Object.values(TEMPLATES)) {
    for (const result of NOTIFICATION_RESULTS) notifications.inc({ template, result }, 0);
  }
  for (const result of SMS_RESULTS) sms.inc({ result }, 0);
  return {
    notifications,
    sms,
    pending,
    /** Gives the pending gauge its database (the mailer does). */
    observe(sql: Sql, logger: Logger) {
      source = { sql, logger };
    },
  };
}

/**
 * `codflow_notifications_total{template,result}`, `codflow_sms_total{result}` and
 * `codflow_notifications_pending` on the platform registry; the same object for a registry
 * however often it is asked for.
 */
export const createNotifierMetrics = metricsOnce(build);

export type NotifierMetrics = ReturnType<typeof createNotifierMetrics>;
