import { setTimeout as delay } from "node:timers/promises";

/**
 * Polls `check` until it returns true; throws `"<what> … within N s"` after the deadline.
 * @example await waitUntil("PostgreSQL to accept connections", () => canConnect(host, 5432), 30_000)
 */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean> | boolean,
  deadlineMs: number,
  intervalMs = 200,
): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() >= deadline) {
      throw new Error(`gave up waiting for ${what} after ${Math.round(deadlineMs / 1000)} s`);
    }
    await delay(intervalMs);
  }
}
