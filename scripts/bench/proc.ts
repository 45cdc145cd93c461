import { readdirSync, readFileSync } from "node:fs";

/** Reading CPU time and memory of processes from Linux's /proc. */

export interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  /** utime + stime of the process, in clock ticks. */
  ticks: number;
  /** cutime + cstime: CPU of its children that exited and were waited for, in clock ticks. */
  childTicks: number;
}

/**
 * Parses /proc/<pid>/stat. The command name is in parentheses and may itself hold spaces and
 * parentheses, so the fields are counted from the last `)`.
 */
export function parseStat(text: string): ProcStat {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) throw new Error("not a /proc/<pid>/stat line");
  const pid = Number(text.slice(0, open).trim());
  const comm = text.slice(open + 1, close);
  // fields after ")": state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17)
  const rest = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const field = (n: number) => Number(rest[n - 3]);
  return {
    pid,
    comm,
    ppid: field(4),
    ticks: field(14) + field(15),
    childTicks: field(16) + field(17),
  };
}

/** A `Key:   1234 kB` line of /proc/<pid>/status or smaps_rollup, in bytes (undefined if absent). */
export function parseKb(text: string, key: string): number | undefined {
  const match = new RegExp(`^${key}:\\s+(\\d+) kB$`, "m").exec(text);
  return match ? Number(match[1]) * 1024 : undefined;
}

const read = (path: string) => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
};

export const readStat = (pid: number) => {
  const text = read(`/proc/${pid}/stat`);
  return text === undefined ? undefined : parseStat(text);
};

/** Resident memory of one process (VmRSS), in bytes. */
export const readRss = (pid: number) => {
  const text = read(`/proc/${pid}/status`);
  return text === undefined ? undefined : parseKb(text, "VmRSS");
};

/**
 * Proportional memory (Pss: shared pages divided among the processes sharing them), in bytes:
 * what a group of processes sharing memory, like PostgreSQL's backends, really uses when summed.
 */
export const readPss = (pid: number) => {
  const text = read(`/proc/${pid}/smaps_rollup`);
  return text === undefined ? undefined : parseKb(text, "Pss");
};

/** Every process now, parsed (those that exit while being read are skipped). */
export function allProcesses(): ProcStat[] {
  const found: ProcStat[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) found.push(stat);
  }
  return found;
}

export const CLOCK_TICKS_PER_SECOND = 100;

/**
 * What the benchmark watches: a single process (a service replica, nats-server, itself), or a
 * process and all its children (PostgreSQL: the postmaster and its backends, where backends that
 * exited still count through the postmaster's cutime/cstime).
 */
export interface Watched {
  label: string;
  pid: number;
  withChildren?: boolean;
}

export interface Usage {
  /** CPU seconds used so far (children included for a group). */
  cpuSeconds: number;
  /** Memory now: VmRSS of one process, summed Pss of a group. */
  memoryBytes: number;
}

/** CPU and memory of `watched` now; undefined when the process is gone. */
export function usageOf(watched: Watched, processes?: readonly ProcStat[]): Usage | undefined {
  const own = readStat(watched.pid);
  if (!own) return undefined;
  if (!watched.withChildren) {
    return { cpuSeconds: own.ticks / CLOCK_TICKS_PER_SECOND, memoryBytes: readRss(own.pid) ?? 0 };
  }
  const children = (processes ?? allProcesses()).filter((p) => p.ppid === watched.pid);
  const ticks = own.ticks + own.childTicks + children.reduce((sum, child) => sum + child.ticks, 0);
  const memory = [own, ...children].reduce((sum, p) => sum + (readPss(p.pid) ?? 0), 0);
  return { cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND, memoryBytes: memory };
}

export interface ProcessReport {
  label: string;
  pid: number;
  cpuSeconds: number;
  peakMemoryBytes: number;
  firstMemoryBytes: number;
  lastMemoryBytes: number;
}

/**
 * Samples every watched process every `intervalMs` until stopped: CPU seconds while sampling
 * (between start and stop, less the pauses), and peak, first and last memory. `pause()` leaves
 * out what the bench itself makes the stack do meanwhile (reading results back from its
 * databases, seeding the next step); `resume()` goes on. A group (PostgreSQL) is sampled only
 * every `groupEvery`-th time, and at start, pause, resume and stop: its summed Pss makes the
 * kernel walk every backend's page tables (smaps_rollup), measured at ~50 ms of CPU per sample
 * with 33 backends, which at 4 samples a second took a fifth of a core from the stack under
 * test, and every 2 s still ~1 % of the machine (`perf record -a` at 250/s: show_smaps_rollup);
 * so every 10 s by default. CPU seconds are unaffected (they are cumulative, read afresh at each
 * of those points); a group's peak memory is the highest of its less frequent samples.
 */
export function startSampler(
  watched: readonly Watched[],
  { intervalMs = 250, groupEvery = 40, usage = usageOf } = {},
) {
  const state = new Map<
    string,
    {
      watched: Watched;
      /** CPU seconds of the periods already ended by a pause. */
      earlier: number;
      startCpu: number;
      lastCpu: number;
      peak: number;
      first: number;
      last: number;
    }
  >();
  let ticks = 0;
  let running = true;
  /** `restart`: a new period begins at this sample (the start, a resume). */
  const sample = (withGroups: boolean, restart = false) => {
    const processes =
      withGroups && watched.some((w) => w.withChildren) ? allProcesses() : undefined;
    for (const w of watched) {
      if (w.withChildren && !withGroups) continue;
      const now = usage(w, processes);
      if (!now) continue;
      const seen = state.get(w.label);
      if (!seen) {
        state.set(w.label, {
          watched: w,
          earlier: 0,
          startCpu: now.cpuSeconds,
          lastCpu: now.cpuSeconds,
          peak: now.memoryBytes,
          first: now.memoryBytes,
          last: now.memoryBytes,
        });
        continue;
      }
      if (restart) seen.startCpu = now.cpuSeconds;
      seen.lastCpu = now.cpuSeconds;
      seen.peak = Math.max(seen.peak, now.memoryBytes);
      seen.last = now.memoryBytes;
    }
  };
  const pause = () => {
    if (!running) return;
    sample(true);
    for (const s of state.values()) {
      s.earlier += s.lastCpu - s.startCpu;
      s.startCpu = s.lastCpu;
    }
    running = false;
  };
  sample(true, true);
  const timer = setInterval(() => {
    if (running) sample(++ticks % groupEvery === 0);
  }, intervalMs);
  timer.unref();
  return {
    pause,
    resume() {
      if (running) return;
      sample(true, true);
      running = true;
    },
    /** Takes a last sample and returns what each process used while sampled. */
    stop(): ProcessReport[] {
      clearInterval(timer);
      pause();
      return [...state.values()].map((s) => ({
        label: s.watched.label,
        pid: s.watched.pid,
        cpuSeconds: s.earlier,
        peakMemoryBytes: s.peak,
        firstMemoryBytes: s.first,
        lastMemoryBytes: s.last,
      }));
    },
  };
}
