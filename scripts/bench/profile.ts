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

/** Self time per function and per origin, `top` of each. */
export function summariseProfile(profile: CpuProfile, top = 12): ProfileSummary {
  const byNode = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const functions = new Map<string, { name: string; where: string; ms: number }>();
  const origins = new Map<string, number>();
  let busyMs = 0;
  for (const [i, id] of profile.samples.entries()) {
    const frame = byNode.get(id);
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    if (!frame || frame.functionName === IDLE) continue;
    busyMs += ms;
    const name = frame.functionName || "(anonymous)";
    const where = frame.url ? `${basename(frame.url)}:${frame.lineNumber + 1}` : "";
    const key = `${name} ${frame.url}:${frame.lineNumber}`;
    const entry = functions.get(key) ?? { name, where, ms: 0 };
    entry.ms += ms;
    functions.set(key, entry);
    const origin = originOf(frame.url, frame.functionName);
    origins.set(origin, (origins.get(origin) ?? 0) + ms);
  }
  return {
    busyMs,
    functions: [...functions.values()].sort((a, b) => b.ms - a.ms).slice(0, top),
    origins: [...origins.entries()]
      .map(([origin, ms]) => ({ origin, ms }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top),
  };
}

/** Every `<label>.cpuprofile` in `dir`, summarised, by label. */
export function summariseProfiles(dir: string, top?: number): Map<string, ProfileSummary> {
  const summaries = new Map<string, ProfileSummary>();
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .sort()) {
    const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
    summaries.set(file.replace(/\.cpuprofile$/, ""), summariseProfile(profile, top));
  }
  return summaries;
}
