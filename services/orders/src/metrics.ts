import { type Metrics, metricsOnce } from "@codflow/shared";

function build(metrics: Metrics) {
  return {
    ordersCreated: metrics.counter(
      "codflow_orders_created_total",
      "Orders created from a reservation (status confirmed).",
      [],
    ),
    transitions: metrics.counter(
      "codflow_order_transitions_total",
      "Order status changes after creation, by from and to status (e.g. confirmed→cancelled).",
      ["from", "to"],
    ),
    deliveryFailures: metrics.counter(
      "codflow_delivery_failures_total",
      "Failed delivery attempts, by reason (customer_unavailable, address_issue…).",
      ["reason"],
    ),
    cashMismatches: metrics.counter(
      "codflow_cash_mismatches_total",
      "Deliveries that recorded cash different from the order total.",
      [],
    ),
  };
}

/**
 * orders' own metrics on the platform registry; the same object for a registry however often it
 * is asked for (the app and the consumers share it).
 */
export const createOrdersMetrics = metricsOnce(build);

export type OrdersMetrics = ReturnType<typeof createOrdersMetrics>;
