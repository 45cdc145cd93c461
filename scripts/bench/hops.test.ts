import { describe, expect, it } from "vitest";
import { hopLatencies } from "./hops.ts";

describe("latency between services, from outbox and inbox times", () => {
  it("splits each event's way into the relay's part and each consumer's delivery", () => {
    const outbox = [
      { id: "e1", type: "checkout.requested", createdMs: 1_000, publishedMs: 1_010 },
      { id: "e2", type: "checkout.requested", createdMs: 2_000, publishedMs: 2_030 },
      { id: "e3", type: "inventory.reserved", createdMs: 1_012, publishedMs: 1_020 },
    ];
    const inbox = [
      { eventId: "e1", consumer: "inventory.reserve-stock", processedMs: 1_012 },
      { eventId: "e1", consumer: "orders.keep-checkout-contacts", processedMs: 1_009 },
      { eventId: "e2", consumer: "inventory.reserve-stock", processedMs: 2_035 },
      { eventId: "e3", consumer: "orders.create-order", processedMs: 1_021 },
      // an event of another run or of the seeding: not in the outbox rows read
      { eventId: "elsewhere", consumer: "orders.create-order", processedMs: 9_999 },
    ];
    const hops = hopLatencies(outbox, inbox);
    expect(hops.relay).toEqual([
      { type: "checkout.requested", latencyMs: { count: 2, p50: 10, p95: 30, p99: 30, max: 30 } },
      { type: "inventory.reserved", latencyMs: { count: 1, p50: 8, p95: 8, p99: 8, max: 8 } },
    ]);
    expect(
      hops.delivery.map((d) => [d.type, d.consumer, d.latencyMs.count, d.latencyMs.max]),
    ).toEqual([
      ["checkout.requested", "inventory.reserve-stock", 2, 5],
      // the consumer began before the relay's mark: a negative delivery, kept as it is
      ["checkout.requested", "orders.keep-checkout-contacts", 1, -1],
      ["inventory.reserved", "orders.create-order", 1, 1],
    ]);
  });

  it("has nothing to say about a run without events", () => {
    expect(hopLatencies([], [])).toEqual({ relay: [], delivery: [] });
  });
});
