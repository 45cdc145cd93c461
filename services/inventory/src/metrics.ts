import type { Metrics } from "@codflow/shared";

/** Inventory's own metrics on the platform registry; create once per registry. */
export function createInventoryMetrics(metrics: Metrics) {
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
  };
}

export type InventoryMetrics = ReturnType<typeof createInventoryMetrics>;
