import { readFileSync } from "node:fs";
import type { ActorRole } from "@codflow/shared";
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import {
  decideTransition,
  isFinal,
  LIFECYCLE,
  lifecycleMarkdown,
  type OrderState,
  type TransitionRequest,
} from "./lifecycle.ts";
import { ORDER_STATUSES, type OrderStatus } from "./order-status.ts";

const MAX = 3;
const order = (status: OrderStatus, attempts = 0): OrderState => ({
  status,
  totalMinor: 3499,
  attempts,
});
const full: Omit<TransitionRequest, "to"> = {
  courier: "dhl",
  awb: "AWB-1",
  cashCollectedMinor: 3499,
  reason: "customer_unavailable",
};

describe("decideTransition", () => {
  it.each<[OrderStatus, OrderStatus, ActorRole, string]>([
    ["confirmed", "shipped", "admin", "ok"],
    ["confirmed", "shipped", "courier", "role-not-allowed"],
    ["confirmed", "cancelled", "customer", "ok"],
    ["confirmed", "cancelled", "admin", "ok"],
    ["confirmed", "cancelled", "system", "ok"],
    ["confirmed", "cancelled", "courier", "role-not-allowed"],
    ["shipped", "cancelled", "customer", "illegal-transition"],
    ["shipped", "cancelled", "admin", "illegal-transition"],
    ["confirmed", "delivered", "admin", "illegal-transition"],
    ["shipped", "out_for_delivery", "courier", "ok"],
    ["shipped", "out_for_delivery", "customer", "role-not-allowed"],
    ["out_for_delivery", "delivered", "courier", "ok"],
    ["out_for_delivery", "delivery_failed", "courier", "ok"],
    ["out_for_delivery", "rto_initiated", "admin", "illegal-transition"],
    ["delivery_failed", "out_for_delivery", "courier", "ok"],
    ["delivery_failed", "rto_initiated", "admin", "ok"],
    ["delivery_failed", "rto_initiated", "courier", "role-not-allowed"],
    ["rto_initiated", "returned", "admin", "ok"],
    ["delivered", "returned", "admin", "illegal-transition"],
    ["returned", "confirmed", "admin", "illegal-transition"],
    ["cancelled", "shipped", "admin", "illegal-transition"],
  ])("%s → %s by %s: %s", (from, to, role, expected) => {
    const decision = decideTransition(order(from), role, { to, ...full }, MAX);
    expect(decision.ok ? "ok" : decision.refusal).toBe(expected);
  });

  it("allows another delivery run only while fewer than the maximum attempts failed", () => {
    const again = { to: "out_for_delivery" } as const;
    expect(decideTransition(order("delivery_failed", 2), "courier", again, MAX)).toMatchObject({
      ok: true,
      change: { kind: "dispatch", attempt: 3 },
    });
    expect(decideTransition(order("delivery_failed", 3), "courier", again, MAX)).toMatchObject({
      ok: false,
      refusal: "illegal-transition",
      detail: "3 of 3 delivery attempts failed: only rto_initiated is allowed",
    });
    expect(
      decideTransition(order("delivery_failed", 3), "admin", { to: "rto_initiated" }, MAX).ok,
    ).toBe(true);
  });

  it("names every field a move needs and lacks", () => {
    expect(decideTransition(order("confirmed"), "admin", { to: "shipped" }, MAX)).toEqual({
      ok: false,
      refusal: "data-missing",
      errors: [
        { path: "courier", message: "required to move to shipped" },
        { path: "awb", message: "required to move to shipped" },
      ],
    });
    expect(
      decideTransition(order("out_for_delivery"), "courier", { to: "delivered" }, MAX),
    ).toMatchObject({ refusal: "data-missing", errors: [{ path: "cashCollectedMinor" }] });
    expect(
      decideTransition(
        order("out_for_delivery"),
        "courier",
        { to: "delivery_failed", reason: "dog ate it" },
        MAX,
      ),
    ).toMatchObject({
      refusal: "data-missing",
      errors: [{ path: "reason", message: expect.stringMatching(/^one of customer_unavailable/) }],
    });
  });

  it("flags cash that differs from the order total, and counts a failed attempt", () => {
    const deliver = (cash: number) =>
      decideTransition(
        order("out_for_delivery"),
        "courier",
        { to: "delivered", cashCollectedMinor: cash },
        MAX,
      );
    expect(deliver(3499)).toMatchObject({ change: { cashMismatch: false } });
    expect(deliver(3000)).toMatchObject({
      change: { kind: "deliver", cashCollectedMinor: 3000, cashMismatch: true },
    });
    expect(
      decideTransition(
        order("out_for_delivery", 1),
        "courier",
        { to: "delivery_failed", reason: "address_issue" },
        MAX,
      ),
    ).toMatchObject({ change: { kind: "fail", reason: "address_issue", attempt: 2 } });
  });
});

describe("the lifecycle", () => {
  const roles: ActorRole[] = ["customer", "admin", "courier", "system"];
  const request = fc.record({
    role: fc.constantFrom(...roles),
    to: fc.constantFrom(...ORDER_STATUSES),
    withData: fc.boolean(),
  });

  test.prop([fc.array(request, { maxLength: 60 }), fc.integer({ min: 1, max: 5 })])(
    "never reaches two final statuses, never leaves one, and never exceeds the attempts",
    (requests, max) => {
      let state = order("confirmed");
      const path: OrderStatus[] = ["confirmed"];
      for (const r of requests) {
        const decision = decideTransition(
          state,
          r.role,
          { to: r.to, ...(r.withData ? full : {}) },
          max,
        );
        if (!decision.ok) continue;
        expect(isFinal(state.status), `left final ${state.status}`).toBe(false);
        const attempts = state.attempts + (decision.change.kind === "fail" ? 1 : 0);
        state = { ...state, status: decision.to, attempts };
        path.push(decision.to);
      }
      expect(path.filter(isFinal).length).toBeLessThanOrEqual(1);
      expect(state.attempts).toBeLessThanOrEqual(max);
      for (const [i, status] of path.entries()) {
        if (status === "delivered") expect(path[i - 1]).toBe("out_for_delivery");
        if (status === "returned") expect(path[i - 1]).toBe("rto_initiated");
        if (status === "cancelled") expect(path[i - 1]).toBe("confirmed");
      }
    },
  );

  it("reaches every status from confirmed, and each move is listed once", () => {
    const reachable = new Set<OrderStatus>(["confirmed"]);
    for (let grew = true; grew; ) {
      const before = reachable.size;
      for (const t of LIFECYCLE) if (reachable.has(t.from)) reachable.add(t.to);
      grew = reachable.size > before;
    }
    expect([...reachable].sort()).toEqual([...ORDER_STATUSES].sort());
    const moves = LIFECYCLE.map((t) => `${t.from}→${t.to}`);
    expect(new Set(moves).size).toBe(moves.length);
  });

  it("is the table README.md shows under Delivery lifecycle", () => {
    const readme = readFileSync(new URL("../../../../README.md", import.meta.url), "utf8");
    const section = /<!-- lifecycle:start -->\n([\s\S]*?)\n<!-- lifecycle:end -->/.exec(readme);
    expect(section?.[1], "README.md lifecycle section").toBeDefined();
    expect(cells(section?.[1] ?? "")).toEqual(cells(lifecycleMarkdown()));
  });
});

/** A markdown text's table cells and lines, blind to the padding a formatter adds. */
function cells(markdown: string) {
  return markdown.split("\n").map((line) =>
    line.startsWith("|")
      ? line
          .split("|")
          .slice(1, -1)
          .map((cell) => cell.trim().replace(/^-+$/, "---"))
      : line.trim(),
  );
}
