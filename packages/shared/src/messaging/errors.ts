/** A failure that may pass: NAK with a delay and try again (until the delivery bound). */
export class RetryableError extends Error {
  override name = "RetryableError";
}

/** A failure that will never pass (bad schema, unknown version, broken invariant): dead-letter. */
export class TerminalError extends Error {
  override name = "TerminalError";
}

export const isTerminal = (err: unknown): err is TerminalError => err instanceof TerminalError;
