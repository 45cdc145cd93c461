import type { Metrics } from "@codflow/shared";

export type NotificationResult = "sent" | "retry" | "failed";

/** `codflow_notifications_total{template,result}` on the platform registry. */
export function createNotifierMetrics(metrics: Metrics) {
  return {
    notifications: metrics.counter(
      "codflow_notifications_total",
      "Emails by template and result (sent, retry: an attempt failed and will be retried, failed: gave up).",
      ["template", "result"],
    ),
  };
}

export type NotifierMetrics = ReturnType<typeof createNotifierMetrics>;
