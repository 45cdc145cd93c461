import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  type CpuProfile,
  type HeapProfileNode,
  originOf,
  summariseAllocations,
  summariseProfile,
} from "./profile.ts";

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

const heapNode = (
  callFrame: HeapProfileNode["callFrame"],
  selfSize: number,
  children: HeapProfileNode[] = [],
): HeapProfileNode => ({ callFrame, selfSize, children });

describe("summarising an allocation profile", () => {
  it("adds each frame's own bytes to its function and origin, wherever it sits in the tree", () => {
    const write = frame("write", "file:///app/node_modules/postgres/src/connection.js", 9);
    const head = heapNode(frame("(root)"), 0, [
      heapNode(frame("accept", "file:///app/dist/main.js", 99), 4000, [
        heapNode(write, 1000),
        heapNode(frame("(V8 API)"), 500),
      ]),
      heapNode(frame("handle", "file:///app/dist/main.js", 5), 0, [heapNode(write, 3000)]),
    ]);
    expect(summariseAllocations(head)).toEqual({
      bytes: 8500,
      functions: [
        { name: "write", where: "connection.js:10", bytes: 4000 },
        { name: "accept", where: "main.js:100", bytes: 4000 },
        { name: "(V8 API)", where: "", bytes: 500 },
      ],
      origins: [
        { origin: "postgres", bytes: 4000 },
        { origin: "codflow", bytes: 4000 },
        { origin: "(V8 API)", bytes: 500 },
      ],
    });
  });

  it("records what a process allocated, freed objects included, into the file it is given", () => {
    const dir = mkdtempSync(join(tmpdir(), "alloc-profile-"));
    try {
      const file = join(dir, "probe.heapprofile");
      const preload = fileURLToPath(new URL("./alloc-profile.mjs", import.meta.url));
      // ~64 MB of short-lived strings: nothing of it is alive when the process exits
      const churn =
        "function churn() { let kept = 0; for (let i = 0; i < 2_000_000; i++) kept += String(i).repeat(4).length; return kept } churn()";
      execFileSync(process.execPath, ["--import", preload, "-e", churn], {
        env: { ...process.env, CODFLOW_ALLOC_PROFILE: file },
      });
      const profile = JSON.parse(readFileSync(file, "utf8")) as { head: HeapProfileNode };
      expect(summariseAllocations(profile.head).bytes).toBeGreaterThan(16_000_000);
      // most of it under churn (its own frame, or builtins it called: String, repeat)
      const under = (node: HeapProfileNode, inside: boolean): number =>
        (inside ? node.selfSize : 0) +
        node.children.reduce(
          (sum, child) => sum + under(child, inside || child.callFrame.functionName === "churn"),
          0,
        );
      expect(under(profile.head, false)).toBeGreaterThan(16_000_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
