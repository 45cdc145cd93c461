import { once } from "node:events";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { type ProcessReport, startSampler, type Watched } from "./proc.ts";

/*
 * The /proc sampler on a thread of its own. Its reads are synchronous, and a PostgreSQL sample
 * (summed Pss: the kernel walks every backend's page tables) took ~50 ms of a loaded machine
 * every 2 s (now every 10 s, see startSampler): on the load generator's event loop that held
 * back the checkouts due meanwhile and the reading of answers, so the client latencies carried
 * the bench's own stalls (the load generator reported sending 82–139 ms late at 50–100/s). The
 * thread's CPU still counts as the load generator's: it is the same process.
 */

interface SamplerData {
  /** This module, which the worker's entry loads. */
  entry: string;
  samplerOf: readonly Watched[];
}

/** Starts sampling `watched` on a worker thread; `stop()` answers what each process used. */
export async function startSamplerThread(watched: readonly Watched[]) {
  const worker = new Worker(new URL("./sampler-thread.worker.mjs", import.meta.url), {
    workerData: { entry: import.meta.url, samplerOf: watched } satisfies SamplerData,
  });
  // a thread that fails or ends by itself answers no more: every wait for it ends with this
  const failed = Promise.race([
    once(worker, "error").then(([error]) => {
      throw error;
    }),
    once(worker, "exit").then(([code]) => {
      throw new Error(`the /proc sampler thread exited (code ${code})`);
    }),
  ]);
  failed.catch(() => {}); // read by each wait
  await Promise.race([once(worker, "message"), failed]); // the first sample is taken
  const ask = async (command: "pause" | "resume" | "stop") => {
    const answer = once(worker, "message");
    worker.postMessage(command);
    return ((await Promise.race([answer, failed])) as [unknown])[0];
  };
  return {
    /** Leaves out what the processes do from now until `resume()` (see startSampler). */
    pause: () => ask("pause").then(() => {}),
    resume: () => ask("resume").then(() => {}),
    async stop(): Promise<ProcessReport[]> {
      const reports = (await ask("stop")) as ProcessReport[];
      await worker.terminate();
      return reports;
    },
  };
}

if (!isMainThread && parentPort && (workerData as Partial<SamplerData>)?.samplerOf) {
  const port = parentPort;
  const sampler = startSampler((workerData as SamplerData).samplerOf);
  port.postMessage("started");
  port.on("message", (command: "pause" | "resume" | "stop") => {
    if (command === "stop") return port.postMessage(sampler.stop());
    sampler[command]();
    port.postMessage(command); // done
  });
}
