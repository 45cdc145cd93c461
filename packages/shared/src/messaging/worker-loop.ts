import { onLocalWake } from "../after-commit.ts";
import type { Sql } from "../db.ts";
import type { Logger } from "../log.ts";

export interface WorkerLoop {
  wake(): void;
  stop(): Promise<void>;
}

/**
 * Runs `runOnce` whenever a transaction of this process that wrote for `channel` commits
 * (`wakeAfterCommit`), whenever a NOTIFY arrives on `channel`, every `pollMs` as a fallback, and
 * again at once while it reports more work. Errors back off (up to 5 s) and never end the loop.
 * Example: `startWorkerLoop({ name: "relay", sql, channel: OUTBOX_CHANNEL, runOnce })`.
 */
export function startWorkerLoop({
  name,
  sql,
  channel,
  pollMs = 1000,
  logger,
  runOnce,
}: {
  name: string;
  sql: Sql;
  channel?: string;
  pollMs?: number;
  logger: Logger;
  runOnce: () => Promise<{ more: boolean }>;
}): WorkerLoop {
  let stopped = false;
  let wakeUp: (() => void) | undefined;
  let pendingWake = false;
  let failures = 0;
  const wake = () => {
    pendingWake = true;
    wakeUp?.();
  };
  // this process's own commits wake it directly (after-commit.ts); LISTEN hears the others
  const stopLocalWake = channel ? onLocalWake(channel, wake) : () => {};
  const listening = channel
    ? sql.listen(channel, wake).catch((err) => {
        logger.warn({ err, worker: name }, "LISTEN failed; polling only");
        return undefined;
      })
    : Promise.resolve(undefined);

  const idle = (ms: number) =>
    new Promise<void>((resolve) => {
      if (pendingWake || stopped) return resolve();
      const timer = setTimeout(resolve, ms);
      wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => {
      wakeUp = undefined;
    });

  const done = (async () => {
    while (!stopped) {
      pendingWake = false;
      try {
        const { more } = await runOnce();
        failures = 0;
        if (!more) await idle(pollMs);
      } catch (err) {
        failures += 1;
        logger.error({ err, worker: name, failures }, "worker iteration failed");
        await idle(Math.min(5000, 100 * 2 ** failures));
      }
    }
  })();

  return {
    wake,
    async stop() {
      stopped = true;
      stopLocalWake();
      wakeUp?.();
      await done;
      const listener = await listening;
      await listener?.unlisten().catch(() => {});
    },
  };
}
