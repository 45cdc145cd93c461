// The sampler thread's entry: worker threads on Node 20 do not get tsx's hooks from `--import`,
// so this plain module loads the TypeScript that does the work (sampler-thread.ts).
import { workerData } from "node:worker_threads";
import { tsImport } from "tsx/esm/api";

await tsImport(workerData.entry, import.meta.url);
