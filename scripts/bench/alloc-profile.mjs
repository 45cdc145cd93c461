// Loaded with `node --import` into each service by `pnpm bench --alloc-prof`: samples what the
// process allocates, collected objects included (`node --heap-prof` keeps only what is still
// alive at exit, which says nothing about the garbage collector's work), and writes the V8
// sampling heap profile to CODFLOW_ALLOC_PROFILE as the process exits. Plain JavaScript, so the
// built services (`node dist/main.js`, no tsx) load it as they are.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";

const file = process.env.CODFLOW_ALLOC_PROFILE;
if (file) {
  const session = new Session();
  session.connect();
  session.post("HeapProfiler.enable");
  session.post("HeapProfiler.startSampling", {
    samplingInterval: 32_768,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  // A session on the process's own thread answers synchronously, so this runs to the end
  // within the exit event.
  process.once("exit", () => {
    session.post("HeapProfiler.stopSampling", (error, result) => {
      if (error) console.error(`allocation profile not written: ${error.message}`);
      else writeFileSync(file, JSON.stringify(result.profile));
    });
  });
}
