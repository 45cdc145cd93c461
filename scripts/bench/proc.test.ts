import { describe, expect, it, vi } from "vitest";
import { mailKind } from "./mail.ts";
import { mailViolations, parsePgbenchTps } from "./measure.ts";
import {
  parseKb,
  parseStat,
  readRss,
  readStat,
  startSampler,
  usageOf,
  type Watched,
} from "./proc.ts";

describe("reading /proc", () => {
  it("parses a stat line whose command holds spaces and parentheses", () => {
    const line =
      "4242 (postgres: x (y)) S 2191 4242 4242 0 -1 4194560 950 0 0 0 120 30 7 3 20 0 1 0 4711 228478976 4520 18446744073709551615";
    expect(parseStat(line)).toEqual({
      pid: 4242,
      comm: "postgres: x (y)",
      ppid: 2191,
      ticks: 150,
      childTicks: 10,
    });
  });

  it("reads kB lines of status and smaps_rollup in bytes", () => {
    const status = "Name:\tnode\nVmPeak:\t  900 kB\nVmRSS:\t   2048 kB\nThreads:\t11\n";
    expect(parseKb(status, "VmRSS")).toBe(2048 * 1024);
    expect(parseKb(status, "Pss")).toBeUndefined();
  });

  it("reads this very process", () => {
    const own = readStat(process.pid);
    expect(own?.pid).toBe(process.pid);
    expect(own?.ppid).toBe(process.ppid);
    expect(readRss(process.pid)).toBeGreaterThan(0);
    expect(usageOf({ label: "self", pid: process.pid })?.cpuSeconds).toBeGreaterThan(0);
    expect(readStat(2 ** 30)).toBeUndefined();
  });
});

describe("the process sampler", () => {
  it("samples a group's costly memory only every groupEvery-th time, and afresh at start and stop", () => {
    vi.useFakeTimers();
    try {
      // each read returns the number of reads so far as CPU seconds
      const reads: string[] = [];
      const usage = (w: Watched) => {
        reads.push(w.label);
        return { cpuSeconds: reads.length, memoryBytes: 100 };
      };
      const sampler = startSampler(
        [
          { label: "service", pid: 1 },
          { label: "postgres", pid: 2, withChildren: true },
        ],
        { intervalMs: 250, groupEvery: 4, usage },
      );
      vi.advanceTimersByTime(250 * 8);
      const [service, postgres] = sampler.stop();

      const count = (label: string) => reads.filter((r) => r === label).length;
      expect(count("service")).toBe(1 + 8 + 1);
      expect(count("postgres")).toBe(1 + 2 + 1);
      // CPU is last read − first read: both taken at start and at stop
      expect(postgres?.cpuSeconds).toBe(reads.lastIndexOf("postgres") - reads.indexOf("postgres"));
      expect(service?.cpuSeconds).toBe(reads.lastIndexOf("service") - reads.indexOf("service"));
      expect(reads.slice(-2)).toEqual(["service", "postgres"]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("leaves out the CPU used while paused", () => {
    vi.useFakeTimers();
    try {
      let cpu = 0;
      const usage = () => ({ cpuSeconds: cpu, memoryBytes: 100 });
      const sampler = startSampler([{ label: "postgres", pid: 2, withChildren: true }], {
        intervalMs: 250,
        usage,
      });
      cpu = 5;
      vi.advanceTimersByTime(250);
      sampler.pause();
      cpu = 100; // the bench reading its results back
      vi.advanceTimersByTime(250 * 8);
      sampler.resume();
      cpu = 103;
      vi.advanceTimersByTime(250);
      const [postgres] = sampler.stop();
      expect(postgres?.cpuSeconds).toBe(5 + 3);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("the bench's other parsers", () => {
  it("finds pgbench's tps", () => {
    const output =
      "latency average = 1.2 ms\ninitial connection time = 5.1 ms\ntps = 3321.456 (without initial connection time)\n";
    expect(parsePgbenchTps(output)).toBeCloseTo(3321.456);
    expect(parsePgbenchTps("pgbench: error")).toBeUndefined();
  });

  it("tells notifier's confirmation and could-not-place mails apart", () => {
    expect(mailKind("Your order CF-000042 is confirmed")).toBe("confirmed");
    expect(mailKind("We could not place your order")).toBe("failed");
    expect(mailKind("Your order CF-000042 has shipped")).toBe("other");
  });

  it("wants exactly one mail of the right kind per checkout, and no stray confirmation", () => {
    const counts = {
      confirmed: { "a@x.test": 1, "b@x.test": 2, "stray@x.test": 1 },
      failed: { "c@x.test": 1 },
      other: {},
    };
    expect(
      mailViolations(counts, [
        { email: "A@x.test", status: "confirmed" },
        { email: "b@x.test", status: "confirmed" },
        { email: "c@x.test", status: "failed" },
        { email: "d@x.test", status: "failed" },
      ]),
    ).toEqual([
      "b@x.test got 2 confirmed mails for one confirmed checkout",
      "d@x.test got 0 failed mails for one failed checkout",
      "stray@x.test got 1 confirmation mails without a confirmed order",
    ]);
  });
});
