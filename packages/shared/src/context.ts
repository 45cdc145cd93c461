import { AsyncLocalStorage } from "node:async_hooks";

/** What every log line and emitted event inherits from the work in progress. */
export interface WorkContext {
  correlationId?: string;
  causationId?: string;
}

const storage = new AsyncLocalStorage<WorkContext>();

export function runWithContext<T>(ctx: WorkContext, fn: () => T): T {
  return storage.run({ ...storage.getStore(), ...ctx }, fn);
}

export function currentContext(): WorkContext {
  return storage.getStore() ?? {};
}
