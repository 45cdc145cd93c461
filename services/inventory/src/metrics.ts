import { type Logger, type Metrics, metricsOnce, type Sql } from "@codflow/shared";

function build(metrics: Metrics) {
  let source: { sql: Sql; logger: Logger } | undefined;
  const active = metrics.scrapeGauges(
    { count: ["codflow_reservations_active", "Reservations holding stock (status active)."] },
    async () => {
      if (!source) return undefined;
      const [row] = await source.sql<{ count: number }[]>`
        select count(*)::int as count from reservations where status = 'active'`;
      return row && { count: Number(row.count) };
    },
    () => source?.logger,
  );
  const reservations = metrics.counter(
    "codflow_reservations_total",
    "checkout.requested answered: reserved, or rejected with its reason (out_of_stock, product_unavailable, price_changed).",
    ["result", "reason"],
  );
  return {
    lateCommits: metrics.counter(
      "codflow_inventory_late_commits_total",
      "orders.confirmed that found its reservation no longer active (released, expired, void, cancelled): nothing applied, the checkout fails and orders cancels the order.",
      ["reservation_status"],
    ),
    reservationsExpired: metrics.counter(
      "codflow_reservations_expired_total",
      "Reservations the expiry sweeper released because no order claimed them in time.",
      [],
    ),
    reservations,
    active,
    /** Gives the active-reservations gauge its database (createApp does). */
    observe(sql: Sql, logger: Logger) {
      source = { sql, logger };
    },
  };
}

/**
 * Inventory's own metrics on the platform registry; the same object for a registry however
 * often it is asked for (the app, the consumers and the sweeper share it).
 */
export const createInventoryMetrics = metricsOnce(build);

export type InventoryMetrics = ReturnType<typeof createInventoryMetrics>;
