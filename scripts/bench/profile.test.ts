import { describe, expect, it } from "vitest";
import { type CpuProfile, originOf, summariseProfile } from "./profile.ts";

const frame = (functionName: string, url = "", lineNumber = 0) => ({
  functionName,
  url,
  lineNumber,
});

describe("summarising a CPU profile", () => {
  it("names the package a file lies in, whatever the node_modules layout", () => {
    expect(
      originOf(
        "file:///w/node_modules/.pnpm/postgres@3.4.7/node_modules/postgres/src/connection.js",
        "write",
      ),
    ).toBe("postgres");
    expect(originOf("file:///app/node_modules/@nats-io/nats-core/lib/core.js", "publish")).toBe(
      "@nats-io/nats-core",
    );
    expect(originOf("node:internal/stream_base_commons", "writeGeneric")).toBe("node");
    expect(originOf("file:///app/dist/main.js", "acceptCheckout")).toBe("codflow");
    expect(originOf("", "(garbage collector)")).toBe("(garbage collector)");
  });

  it("adds each sample's time to its function and origin, leaving idle time out", () => {
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: frame("(root)") },
        { id: 2, callFrame: frame("(idle)") },
        {
          id: 3,
          callFrame: frame("write", "file:///app/node_modules/postgres/src/connection.js", 9),
        },
        { id: 4, callFrame: frame("accept", "file:///app/dist/main.js", 99) },
        { id: 5, callFrame: frame("(garbage collector)") },
      ],
      samples: [2, 3, 4, 3, 2, 5, 3],
      timeDeltas: [5000, 1000, 2000, 1000, 9000, 500, 1000],
    };
    const summary = summariseProfile(profile);
    expect(summary.busyMs).toBe(5.5);
    expect(summary.functions).toEqual([
      { name: "write", where: "connection.js:10", ms: 3 },
      { name: "accept", where: "main.js:100", ms: 2 },
      { name: "(garbage collector)", where: "", ms: 0.5 },
    ]);
    expect(summary.origins).toEqual([
      { origin: "postgres", ms: 3 },
      { origin: "codflow", ms: 2 },
      { origin: "(garbage collector)", ms: 0.5 },
    ]);
  });
});
