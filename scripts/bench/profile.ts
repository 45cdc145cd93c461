import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";

/** The parts of a V8 `.cpuprofile` (what `node --cpu-prof` writes at exit) read here. */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled time the process was running JavaScript, native code or the GC (not idle), in ms. */
  busyMs: number;
  /** Self time by function, most first. */
  functions: { name: string; where: string; ms: number }[];
  /** Self time by where the code comes from: an npm package, node's own code, or codflow's. */
  origins: { origin: string; ms: number }[];
}

const IDLE = "(idle)";

/**
 * Where a function's code comes from: the npm package its file lies in (the last node_modules
 * segment, so pnpm's `.pnpm/<pkg>@<v>/node_modules/<pkg>` and a deployed flat layout agree),
 * `node` for node's own modules, V8's pseudo-frames as they are ("(garbage collector)"), and
 * `codflow` for everything else (the services' bundles and their sources under tsx).
 */
export function originOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  if (url.startsWith("node:")) return "node";
  const at = url.lastIndexOf("/node_modules/");
  if (at === -1) return "codflow";
  const [first, second] = url.slice(at + "/node_modules/".length).split("/");
  return first?.startsWith("@") ? `${first}/${second}` : (first ?? "codflow");
}

type CallFrame = CpuProfile["nodes"][number]["callFrame"];

/** Sums an amount (time, bytes) by function and by origin; `ranked` gives the `top` of each. */
function tallyByFunction() {
  const functions = new Map<string, { name: string; where: string; amount: number }>();
  const origins = new Map<string, number>();
  return {
    add({ functionName, url, lineNumber }: CallFrame, amount: number) {
      const key = `${functionName} ${url}:${lineNumber}`;
      const entry = functions.get(key) ?? {
        name: functionName || "(anonymous)",
        where: url ? `${basename(url)}:${lineNumber + 1}` : "",
        amount: 0,
      };
      entry.amount += amount;
      functions.set(key, entry);
      const origin = originOf(url, functionName);
      origins.set(origin, (origins.get(origin) ?? 0) + amount);
    },
    ranked(top: number) {
      return {
        functions: [...functions.values()].sort((a, b) => b.amount - a.amount).slice(0, top),
        origins: [...origins.entries()]
          .map(([origin, amount]) => ({ origin, amount }))
          .sort((a, b) => b.amount - a.amount)
          .slice(0, top),
      };
    },
  };
}

/** Self time per function and per origin, `top` of each. */
export function summariseProfile(profile: CpuProfile, top = 12): ProfileSummary {
  const byNode = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const tally = tallyByFunction();
  let busyMs = 0;
  for (const [i, id] of profile.samples.entries()) {
    const frame = byNode.get(id);
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    if (!frame || frame.functionName === IDLE) continue;
    busyMs += ms;
    tally.add(frame, ms);
  }
  const { functions, origins } = tally.ranked(top);
  return {
    busyMs,
    functions: functions.map(({ amount, ...f }) => ({ ...f, ms: amount })),
    origins: origins.map(({ amount, ...o }) => ({ ...o, ms: amount })),
  };
}

/** The parts of a V8 sampling heap profile (what alloc-profile.mjs writes) read here. */
export interface HeapProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  /** Bytes of the samples allocated in this very frame. */
  selfSize: number;
  children: HeapProfileNode[];
}

export interface AllocationSummary {
  /** Sampled bytes allocated over the process's life, collected ones included. */
  bytes: number;
  /** Bytes by the function that allocated them, most first. */
  functions: { name: string; where: string; bytes: number }[];
  /** Bytes by where that function's code comes from (see originOf). */
  origins: { origin: string; bytes: number }[];
}

/** Allocated bytes per function and per origin, `top` of each. */
export function summariseAllocations(head: HeapProfileNode, top = 12): AllocationSummary {
  const tally = tallyByFunction();
  let bytes = 0;
  const pending = [head];
  for (let node = pending.pop(); node; node = pending.pop()) {
    pending.push(...node.children);
    if (node.selfSize === 0) continue;
    bytes += node.selfSize;
    tally.add(node.callFrame, node.selfSize);
  }
  const { functions, origins } = tally.ranked(top);
  return {
    bytes,
    functions: functions.map(({ amount, ...f }) => ({ ...f, bytes: amount })),
    origins: origins.map(({ amount, ...o }) => ({ ...o, bytes: amount })),
  };
}

/** Every `<label><extension>` in `dir`, read and summarised, by label. */
function summariseEach<P, S>(dir: string, extension: string, summarise: (profile: P) => S) {
  const summaries = new Map<string, S>();
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith(extension))
    .sort()) {
    const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as P;
    summaries.set(file.slice(0, -extension.length), summarise(profile));
  }
  return summaries;
}

/** Every `<label>.cpuprofile` in `dir`, summarised, by label. */
export const summariseProfiles = (dir: string, top?: number): Map<string, ProfileSummary> =>
  summariseEach(dir, ".cpuprofile", (profile: CpuProfile) => summariseProfile(profile, top));

/** Every `<label>.heapprofile` in `dir`, summarised, by label. */
export const summariseAllocationProfiles = (
  dir: string,
  top?: number,
): Map<string, AllocationSummary> =>
  summariseEach(dir, ".heapprofile", (profile: { head: HeapProfileNode }) =>
    summariseAllocations(profile.head, top),
  );
