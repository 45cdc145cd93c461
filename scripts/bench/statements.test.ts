import { describe, expect, it } from "vitest";
import {
  oneLine,
  type StatementCounter,
  statementsBetween,
  unavailableReason,
} from "./statements.ts";

const counter = (query: string, calls: number, totalMs: number, rows = calls) => ({
  database: "codflow_bench_checkout",
  query,
  calls,
  totalMs,
  rows,
});
const snapshot = (entries: Record<string, StatementCounter>) => new Map(Object.entries(entries));

describe("PostgreSQL's statements over a run", () => {
  it("diffs the counters, ranks by execution time and divides by orders", () => {
    const before = snapshot({
      a: counter("begin", 100, 10),
      b: counter("insert into checkouts …", 50, 40),
      idle: counter("select 1", 7, 1),
    });
    const after = snapshot({
      a: counter("begin", 300, 30),
      b: counter("insert into checkouts …", 150, 240, 400),
      idle: counter("select 1", 7, 1),
      c: counter("update stock …", 20, 60),
    });
    const report = statementsBetween(before, after, 100);
    // 200 + 100 + 20 calls, 20 + 200 + 60 ms; the unchanged statement is left out
    expect(report.statementsPerOrder).toBeCloseTo(3.2);
    expect(report.execMsPerOrder).toBeCloseTo(2.8);
    expect(report.top.map((t) => t.query)).toEqual([
      "insert into checkouts …",
      "update stock …",
      "begin",
    ]);
    expect(report.top[0]).toMatchObject({ calls: 100, rows: 350, callsPerOrder: 1, meanMs: 2 });
    expect(report.top[0]?.share).toBeCloseTo(200 / 280);
    expect(report.mostCalled.map((t) => [t.query, t.callsPerOrder])).toEqual([
      ["begin", 2],
      ["insert into checkouts …", 1],
      ["update stock …", 0.2],
    ]);
  });

  it("counts a statement whose counters went down (evicted, then seen again) from zero", () => {
    const report = statementsBetween(
      snapshot({ a: counter("begin", 500, 50) }),
      snapshot({ a: counter("begin", 40, 4) }),
      10,
    );
    expect(report.top[0]).toMatchObject({ calls: 40, totalMs: 4, callsPerOrder: 4 });
  });

  it("keeps the top n and says NaN per order when no order was placed", () => {
    const after = snapshot(
      Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`q${i}`, counter(`q${i}`, 1, i)])),
    );
    const report = statementsBetween(new Map(), after, 0, 2);
    expect(report.top.map((t) => t.query)).toEqual(["q4", "q3"]);
    expect(report.statementsPerOrder).toBeNaN();
  });

  it("prints a statement on one bounded line", () => {
    expect(oneLine("select a,\n   b\tfrom t", 80)).toBe("select a, b from t");
    expect(oneLine("x".repeat(10), 5)).toBe("xxxx…");
  });

  it("says how to enable the module when the server has not loaded it", () => {
    // PostgreSQL's words when the extension exists but the library was not preloaded
    expect(
      unavailableReason('pg_stat_statements must be loaded via "shared_preload_libraries"'),
    ).toBe(
      "pg_stat_statements is not loaded: add shared_preload_libraries = 'pg_stat_statements' to postgresql.conf and restart PostgreSQL",
    );
    expect(unavailableReason("permission denied to create extension")).toBe(
      "pg_stat_statements cannot be read: permission denied to create extension",
    );
  });
});
