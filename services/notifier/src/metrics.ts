import type { Logger, Metrics, Sql } from "@codflow/shared";

export type NotificationResult = "sent" | "retry" | "failed";

const byRegistry = new WeakMap<object, ReturnType<typeof build>>();

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
  return {
    notifications: metrics.counter(
      "codflow_notifications_total",
      "Emails by template and result (sent, retry: an attempt failed and will be retried, failed: gave up).",
      ["template", "result"],
    ),
    pending,
    /** Gives the pending gauge its database (the mailer does). */
    observe(sql: Sql, logger: Logger) {
      source = { sql, logger };
    },
  };
}

/**
 * `codflow_notifications_total{template,result}` and `codflow_notifications_pending` on the
 * platform registry; the same object for a registry however often it is asked for.
 */
export function createNotifierMetrics(metrics: Metrics) {
  let found = byRegistry.get(metrics.registry);
  if (!found) {
    found = build(metrics);
    byRegistry.set(metrics.registry, found);
  }
  return found;
}

export type NotifierMetrics = ReturnType<typeof createNotifierMetrics>;
