/** Methods RFC 9110 §9.2.2 defines as idempotent: sending one twice has the effect of once. */
const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

/** The connection was refused: nothing listens there (a replica stopped or not started yet). */
export const isConnectionRefused = (error: Error) =>
  (error as NodeJS.ErrnoException).code === "ECONNREFUSED";

/**
 * Whether a request whose attempt failed before any answer came back may be sent to another
 * replica: always when the connection was refused (the upstream never saw a byte of it);
 * otherwise (a reset, e.g. a keep-alive connection the replica closed as the request went out)
 * only when sending it twice does no harm: an idempotent method, or an `Idempotency-Key`, by
 * which the service answers a repeat with the first answer. Anything else may have been applied
 * already, so the client gets the 502 and decides.
 */
export function mayResend(method: string, hasIdempotencyKey: boolean, error: Error): boolean {
  return isConnectionRefused(error) || hasIdempotencyKey || IDEMPOTENT_METHODS.has(method);
}
