import { onLocalWake } from "../after-commit.ts";
import type { Sql } from "../db.ts";
import type { Logger } from "../log.ts";

export interface WorkerLoop {
  /** As a commit or NOTIFY on the loop's channel: the next iteration is `due`. */
  wake(): void;
  /** Runs the next iteration soon without making it `due` (work was handed over in memory). */
  nudge(): void;
  stop(): Promise<void>;
}

export interface Iteration {
  /**
   * True for the first iteration, after the poll interval passed, after a wake on the channel
   * and after a failure: whatever the worker looks for in the database may be there. False when
   * only a nudge or the previous iteration's `more` brought it.
   */
  due: boolean;
}

/**
 * Runs `runOnce` whenever a transaction of this process that wrote for `channel` commits
 * (`wakeAfterCommit`), whenever a NOTIFY arrives on `channel`, every `pollMs` as a fallback, and
 * again at once while it reports more work or after a `nudge`. Errors back off (up to 5 s) and
 * never end the loop.
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
  runOnce: (iteration: Iteration) => Promise<{ more: boolean }>;
}): WorkerLoop {
  let stopped = false;
  let wakeUp: (() => void) | undefined;
  let pendingWake = false;
  let channelWoke = false;
  let failures = 0;
  const nudge = () => {
    pendingWake = true;
    wakeUp?.();
  };
  const wake = () => {
    channelWoke = true;
    nudge();
  };
  // this process's own commits wake it directly (after-commit.ts); LISTEN hears the others
  const stopLocalWake = channel ? onLocalWake(channel, wake) : () => {};
  const listening = channel
    ? sql.listen(channel, wake).catch((err) => {
        logger.warn({ err, worker: name }, "LISTEN failed; polling only");
        return undefined;
      })
    : Promise.resolve(undefined);

  /** Resolves true when `ms` passed, false when woken or nudged first. */
  const idle = (ms: number) =>
    new Promise<boolean>((resolve) => {
      if (pendingWake || stopped) return resolve(false);
      const timer = setTimeout(() => resolve(true), ms);
      wakeUp = () => {
        clearTimeout(timer);
        resolve(false);
      };
    }).finally(() => {
      wakeUp = undefined;
    });

  const done = (async () => {
    let due = true;
    while (!stopped) {
      pendingWake = false;
      due ||= channelWoke;
      channelWoke = false;
      try {
        const { more } = await runOnce({ due });
        failures = 0;
        due = more ? false : await idle(pollMs);
      } catch (err) {
        failures += 1;
        logger.error({ err, worker: name, failures }, "worker iteration failed");
        await idle(Math.min(5000, 100 * 2 ** failures));
        due = true;
      }
    }
  })();

  return {
    wake,
    nudge,
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
