/** A failure that may pass: NAK with a delay and try again (until the delivery bound). */
export class RetryableError extends Error {
  override name = "RetryableError";
}

/**
 * An event that came before what it needs (the order of two streams is never assumed): retried
 * like any RetryableError after a couple of quick retries (EARLY_RETRY_DELAYS_MS, not counted
 * toward the delivery bound), and logged at info, since a healthy system under load meets it often.
 */
export class TooEarlyError extends RetryableError {
  override name = "TooEarlyError";
}

/** A failure that will never pass (bad schema, unknown version, broken invariant): dead-letter. */
export class TerminalError extends Error {
  override name = "TerminalError";
}

export const isTerminal = (err: unknown): err is TerminalError => err instanceof TerminalError;

/** Postgres and socket failures that say nothing about the message: the database is away. */
const INFRASTRUCTURE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "08000",
  "08003",
  "08006",
  "53300", // too_many_connections
  "40001", // serialization_failure
  "40P01", // deadlock_detected
]);

/**
 * True when the failure belongs to the infrastructure, not the message: such a message is
 * retried for as long as it takes and never dead-lettered (a Postgres restart must not turn
 * healthy messages into dead letters).
 */
export const isInfrastructureError = (err: unknown) =>
  INFRASTRUCTURE_CODES.has(String((err as { code?: unknown })?.code ?? ""));
