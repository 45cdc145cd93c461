/** Every status a reservation can have; `void` marks a checkout aborted before it reserved. */
export type ReservationStatus =
  | "active"
  | "committed"
  | "released"
  | "expired"
  | "void"
  | "cancelled"
  | "returned";

/**
 * The reservation lifecycle, the only moves there are: what the conditional UPDATEs apply and
 * what the `reservations_status_transition` trigger lets through. Absent = final.
 */
export const RESERVATION_TRANSITIONS = {
  active: ["committed", "released", "expired"],
  committed: ["cancelled", "returned"],
} as const satisfies Partial<Record<ReservationStatus, readonly ReservationStatus[]>>;

type Transitions = typeof RESERVATION_TRANSITIONS;
/** A move the lifecycle allows, e.g. `{ from: "active"; to: "expired" }`. */
export type ReservationMove = {
  [F in keyof Transitions]: { from: F; to: Transitions[F][number] };
}[keyof Transitions];
