/** The longest wait between two sending attempts, whatever the attempt count. */
export const MAX_RETRY_DELAY_MS = 60 * 60_000;

export type AfterFailure = { status: "pending"; retryInMs: number } | { status: "failed" };

/**
 * What happens to an email whose `attempts`-th sending attempt failed: retried after
 * `baseMs × 2^(attempts-1)` (capped at an hour), or failed for good after `maxAttempts`.
 */
export function afterFailedAttempt(
  attempts: number,
  { maxAttempts, baseMs }: { maxAttempts: number; baseMs: number },
): AfterFailure {
  if (attempts >= maxAttempts) return { status: "failed" };
  return {
    status: "pending",
    retryInMs: Math.min(MAX_RETRY_DELAY_MS, baseMs * 2 ** (attempts - 1)),
  };
}
