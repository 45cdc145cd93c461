import {
  type ActorRole,
  appendToOutbox,
  HttpProblem,
  inTransaction,
  type Sql,
} from "@codflow/shared";
import { lockOrder, recordTransition } from "./db/transition-order.ts";
import { decideTransition, type TransitionRequest } from "./domain/lifecycle.ts";
import { auditData, lifecycleEvent } from "./domain/lifecycle-events.ts";
import type { OrdersMetrics } from "./metrics.ts";

export interface MoveOrderDeps {
  sql: Sql;
  /** The NATS namespace the outbox rows are addressed to. */
  namespace: string;
  metrics: OrdersMetrics;
  maxDeliveryAttempts: number;
}

const AWB_UNIQUE = "deliveries_courier_awb_unique";

/**
 * One lifecycle move, in one transaction under the order's row lock: read the order, let the
 * lifecycle table decide, then write the status, delivery record and audit row, and put the
 * `orders.<to>` event in the outbox. Refusals are problem+json: unknown (or another customer's)
 * order 404, illegal move 409 `illegal-transition`, role not allowed 403, missing data 422, a
 * waybill the courier already used 409 `awb-already-used`. Metrics count after commit.
 */
export async function moveOrder(
  deps: MoveOrderDeps,
  {
    orderId,
    ownerId,
    actor,
    request,
  }: {
    orderId: string;
    /** Set for a customer: only their own order may be moved. */
    ownerId?: string;
    actor: { id: string; role: ActorRole };
    request: TransitionRequest;
  },
) {
  const moved = await inTransaction(deps.sql, "orders.move-order", async (tx) => {
    const order = await lockOrder(tx, orderId, ownerId);
    if (!order) throw new HttpProblem(404, "not-found", "Order not found", `no order ${orderId}`);
    const decision = decideTransition(order, actor.role, request, deps.maxDeliveryAttempts);
    if (!decision.ok) throw refusalProblem(decision);
    const at = await recordTransition(tx, {
      order,
      to: decision.to,
      change: decision.change,
      actor,
      data: auditData(order, decision.change),
    }).catch((err: unknown) => {
      if ((err as { constraint_name?: string }).constraint_name === AWB_UNIQUE) {
        throw new HttpProblem(
          409,
          "awb-already-used",
          "Waybill already used",
          `courier ${request.courier} already has a parcel with waybill ${request.awb}`,
        );
      }
      throw err;
    });
    await appendToOutbox(tx, deps.namespace, [
      lifecycleEvent(order, {
        to: decision.to,
        change: decision.change,
        actorRole: actor.role,
        at,
      }),
    ]);
    return decision;
  });
  deps.metrics.transitions.inc({ from: moved.from, to: moved.to });
  if (moved.change.kind === "deliver" && moved.change.cashMismatch)
    deps.metrics.cashMismatches.inc();
  if (moved.change.kind === "fail")
    deps.metrics.deliveryFailures.inc({ reason: moved.change.reason });
}

function refusalProblem(decision: Exclude<ReturnType<typeof decideTransition>, { ok: true }>) {
  switch (decision.refusal) {
    case "illegal-transition":
      return new HttpProblem(409, "illegal-transition", "Transition not allowed", decision.detail);
    case "role-not-allowed":
      return new HttpProblem(403, "forbidden", "Not allowed for your role", decision.detail);
    case "data-missing":
      return new HttpProblem(
        422,
        "validation-failed",
        "The transition lacks required data",
        "missing or invalid fields for this transition",
        decision.errors,
      );
  }
}
