export const MAX_WAIT_SECONDS = 10;

/**
 * Seconds asked for by `Prefer: wait=N` (RFC 7240), capped at MAX_WAIT_SECONDS; undefined when
 * the header asks no wait (absent, zero, or not an integer).
 */
export function preferredWaitSeconds(prefer: string | undefined): number | undefined {
  const match = /(?:^|[,;\s])wait\s*=\s*"?(\d+)"?\s*(?:$|[,;])/i.exec(prefer ?? "");
  const seconds = match ? Number(match[1]) : 0;
  return seconds >= 1 ? Math.min(seconds, MAX_WAIT_SECONDS) : undefined;
}
