import { RetryableError, TerminalError } from "@codflow/shared";
import type { SmsMessage } from "./domain/sms.ts";

/** What the notifier needs of an SMS provider: hand over one message, or throw. */
export interface SmsGateway {
  send(message: SmsMessage): Promise<void>;
}

/** Statuses a later attempt may get past: the provider is overloaded, throttling or down. */
const RETRYABLE_STATUS = new Set([408, 425, 429]);

/**
 * An SMS gateway that takes `POST <url>` with JSON `{to, body}` and answers 2xx once it has the
 * message. Unreachable, slow (past `timeoutMs`), 5xx, 408 and 429 are retryable; another 4xx
 * means the message itself is refused, which no retry changes. Errors never quote the message
 * or the gateway's answer (they could hold the phone number or the code), nor the URL (it may
 * hold an API key).
 */
export function createSmsGateway(url: string, { timeoutMs = 10_000 } = {}): SmsGateway {
  return {
    async send(message) {
      let res: Response;
      try {
        res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(message),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        throw new RetryableError(`SMS gateway unreachable: ${networkReason(err)}`);
      }
      await res.body?.cancel();
      if (res.ok) return;
      if (res.status >= 500 || RETRYABLE_STATUS.has(res.status)) {
        throw new RetryableError(`SMS gateway answered ${res.status}`);
      }
      throw new TerminalError(`SMS gateway refused the message with ${res.status}`);
    },
  };
}

function networkReason(err: unknown) {
  const error = err as { name?: string; cause?: { code?: unknown } };
  if (error?.name === "TimeoutError") return "timed out";
  return String(error?.cause?.code ?? error?.name ?? "network error");
}
