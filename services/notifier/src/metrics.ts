import type { Metrics } from "@codflow/shared";

export type NotificationResult = "sent" | "retry" | "failed";

export interface NotifierMetrics {
  notifications: { inc(labels: { template: string; result: NotificationResult }): void };
}

/**
 * `codflow_notifications_total{template,result}` on the platform registry. prom-client is a
 * dependency of @codflow/shared only, so its Counter class is borrowed from a shared counter
 * rather than imported.
 */
export function createNotifierMetrics(metrics: Metrics): NotifierMetrics {
  const Counter = metrics.deadLetters.constructor as new (config: {
    name: string;
    help: string;
    labelNames: readonly string[];
    registers: Metrics["registry"][];
  }) => NotifierMetrics["notifications"];
  return {
    notifications: new Counter({
      name: "codflow_notifications_total",
      help: "Emails by template and result (sent, retry: an attempt failed and will be retried, failed: gave up).",
      labelNames: ["template", "result"],
      registers: [metrics.registry],
    }),
  };
}
