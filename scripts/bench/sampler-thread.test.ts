import { describe, expect, it } from "vitest";
import { startSamplerThread } from "./sampler-thread.ts";

describe("the sampler thread", () => {
  it("measures this process's CPU and memory from a thread of its own", async () => {
    const sampler = await startSamplerThread([{ label: "self", pid: process.pid }]);
    // burn 0.3 s of this process's CPU (not of wall time: the machine may be busy)
    const from = process.cpuUsage();
    const cpuSecondsSince = () => {
      const { user, system } = process.cpuUsage(from);
      return (user + system) / 1e6;
    };
    while (cpuSecondsSince() < 0.3);
    const [self] = await sampler.stop();

    expect(self?.label).toBe("self");
    expect(self?.cpuSeconds).toBeGreaterThanOrEqual(0.2);
    expect(self?.peakMemoryBytes).toBeGreaterThan(10 * 1024 * 1024);
  });

  it("reports a process that is gone as nothing measured, without failing", async () => {
    const sampler = await startSamplerThread([{ label: "gone", pid: 2 ** 22 + 1 }]);
    expect(await sampler.stop()).toEqual([]);
  });

  it("fails a wait once the thread has ended, instead of waiting forever", async () => {
    const sampler = await startSamplerThread([{ label: "self", pid: process.pid }]);
    await sampler.stop(); // ends the thread
    await expect(sampler.pause()).rejects.toThrow(/sampler thread exited/);
  });
});
