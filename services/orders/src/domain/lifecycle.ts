import {
  type ActorRole,
  type DeliveryFailureReason,
  deliveryFailureReasonSchema,
} from "@codflow/shared";
import { ORDER_STATUSES, type OrderStatus } from "./order-status.ts";

/** A field of the transition request that a move cannot do without. */
export type Requirement = "courier" | "awb" | "cashCollectedMinor" | "reason";

export interface Transition {
  from: OrderStatus;
  to: OrderStatus;
  /** Who may make this move; `system` is the saga's own compensation. */
  roles: readonly ActorRole[];
  requires: readonly Requirement[];
  /** Only while the order has failed fewer than MAX_DELIVERY_ATTEMPTS deliveries. */
  whileAttemptsLeft?: boolean;
}

/**
 * The delivery lifecycle: every move an order can make, who may make it and what it needs.
 * Nothing else decides what may happen to an order; the README prints this table (a test keeps
 * the two the same). A status with no move out of it is final.
 */
export const LIFECYCLE: readonly Transition[] = [
  { from: "confirmed", to: "shipped", roles: ["admin"], requires: ["courier", "awb"] },
  { from: "confirmed", to: "cancelled", roles: ["customer", "admin", "system"], requires: [] },
  { from: "shipped", to: "out_for_delivery", roles: ["admin", "courier"], requires: [] },
  {
    from: "out_for_delivery",
    to: "delivered",
    roles: ["admin", "courier"],
    requires: ["cashCollectedMinor"],
  },
  {
    from: "out_for_delivery",
    to: "delivery_failed",
    roles: ["admin", "courier"],
    requires: ["reason"],
  },
  {
    from: "delivery_failed",
    to: "out_for_delivery",
    roles: ["admin", "courier"],
    requires: [],
    whileAttemptsLeft: true,
  },
  { from: "delivery_failed", to: "rto_initiated", roles: ["admin"], requires: [] },
  { from: "rto_initiated", to: "returned", roles: ["admin"], requires: [] },
];

/** Statuses no move leaves: delivered, returned, cancelled. */
export const isFinal = (status: OrderStatus) => !LIFECYCLE.some((t) => t.from === status);

/** What an actor asks for: the target status and the data the move may need. */
export interface TransitionRequest {
  to: OrderStatus;
  reason?: string;
  cashCollectedMinor?: number;
  courier?: string;
  awb?: string;
}

/** The order as the decision needs it. */
export interface OrderState {
  status: OrderStatus;
  totalMinor: number;
  /** Failed delivery attempts so far. */
  attempts: number;
}

/** What a move does to the delivery record, besides the status. */
export type DeliveryChange =
  | { kind: "ship"; courier: string; awb: string }
  | { kind: "dispatch"; attempt: number }
  | { kind: "deliver"; cashCollectedMinor: number; cashMismatch: boolean }
  | { kind: "fail"; reason: DeliveryFailureReason; attempt: number }
  | { kind: "none"; reason?: string };

export type FieldError = { path: string; message: string };

export type Decision =
  | { ok: true; from: OrderStatus; to: OrderStatus; change: DeliveryChange }
  | { ok: false; refusal: "illegal-transition"; detail: string }
  | { ok: false; refusal: "role-not-allowed"; detail: string }
  | { ok: false; refusal: "data-missing"; errors: FieldError[] };

/**
 * Decides one move: legal from the current status (else `illegal-transition`), allowed for
 * the role (else `role-not-allowed`), attempts left for another delivery run, and the data the
 * move requires present and valid (else `data-missing` with field errors).
 */
export function decideTransition(
  order: OrderState,
  role: ActorRole,
  request: TransitionRequest,
  maxDeliveryAttempts: number,
): Decision {
  const transition = LIFECYCLE.find((t) => t.from === order.status && t.to === request.to);
  if (!transition) {
    return {
      ok: false,
      refusal: "illegal-transition",
      detail: `an order that is ${order.status} cannot become ${request.to}`,
    };
  }
  if (!transition.roles.includes(role)) {
    return {
      ok: false,
      refusal: "role-not-allowed",
      detail: `a ${role} cannot move an order from ${transition.from} to ${transition.to}`,
    };
  }
  if (transition.whileAttemptsLeft && order.attempts >= maxDeliveryAttempts) {
    return {
      ok: false,
      refusal: "illegal-transition",
      detail: `${order.attempts} of ${maxDeliveryAttempts} delivery attempts failed: only rto_initiated is allowed`,
    };
  }
  const errors = missingData(transition, request);
  if (errors.length > 0) return { ok: false, refusal: "data-missing", errors };
  return {
    ok: true,
    from: transition.from,
    to: transition.to,
    change: deliveryChange(order, request),
  };
}

function missingData(transition: Transition, request: TransitionRequest): FieldError[] {
  const errors: FieldError[] = transition.requires
    .filter((field) => request[field] === undefined)
    .map((field) => ({ path: field, message: `required to move to ${transition.to}` }));
  if (
    transition.to === "delivery_failed" &&
    request.reason !== undefined &&
    !deliveryFailureReasonSchema.safeParse(request.reason).success
  ) {
    errors.push({
      path: "reason",
      message: `one of ${deliveryFailureReasonSchema.options.join(", ")}`,
    });
  }
  return errors;
}

/** Called only once `missingData` found nothing: every required field is present. */
function deliveryChange(order: OrderState, request: TransitionRequest): DeliveryChange {
  switch (request.to) {
    case "shipped":
      return { kind: "ship", courier: request.courier ?? "", awb: request.awb ?? "" };
    case "out_for_delivery":
      return { kind: "dispatch", attempt: order.attempts + 1 };
    case "delivered": {
      const cashCollectedMinor = request.cashCollectedMinor ?? 0;
      return {
        kind: "deliver",
        cashCollectedMinor,
        cashMismatch: cashCollectedMinor !== order.totalMinor,
      };
    }
    case "delivery_failed":
      return {
        kind: "fail",
        reason: deliveryFailureReasonSchema.parse(request.reason),
        attempt: order.attempts + 1,
      };
    default:
      return request.reason === undefined
        ? { kind: "none" }
        : { kind: "none", reason: request.reason };
  }
}

/** The lifecycle as the README prints it, between its `lifecycle` markers. */
export function lifecycleMarkdown(): string {
  const requirement = (t: Transition) =>
    [
      ...t.requires.map((r) => `\`${r}\``),
      ...(t.whileAttemptsLeft ? ["fewer than `MAX_DELIVERY_ATTEMPTS` failed attempts"] : []),
    ].join(", ") || "—";
  const rows = LIFECYCLE.map(
    (t) => `| \`${t.from}\` | \`${t.to}\` | ${t.roles.join(", ")} | ${requirement(t)} |`,
  );
  return [
    "| from | to | who | requires |",
    "|---|---|---|---|",
    ...rows,
    "",
    `Final: ${ORDER_STATUSES.filter(isFinal)
      .map((s) => `\`${s}\``)
      .join(", ")}.`,
  ].join("\n");
}
