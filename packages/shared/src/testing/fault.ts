import type { EventOf, EventType } from "../events/index.ts";
import type { ConsumerSpec } from "../messaging/consume.ts";
import { RetryableError } from "../messaging/errors.ts";

/**
 * `spec` with a transient fault injected: the first time an event `isVictim` picks is handled,
 * alone or in a set-based batch, the handler applies its effects and then throws a
 * RetryableError, so the transaction must roll those effects back and the event must come again.
 * `attempts()` counts how often a victim was handled (more than one: it was retried);
 * `failedIn()` tells whether the fault hit a set-based batch or an event handled alone.
 */
export function failingOnce<T extends EventType>(
  spec: ConsumerSpec<T>,
  isVictim: (event: EventOf<T>) => boolean,
) {
  let attempts = 0;
  let failedIn: "batch" | "alone" | undefined;
  const afterEffects = (events: EventOf<T>[], where: "batch" | "alone") => {
    if (!events.some(isVictim) || attempts++ > 0) return;
    failedIn = where;
    throw new RetryableError("injected fault");
  };
  const { handleBatch } = spec;
  const faulty: ConsumerSpec<T> = {
    ...spec,
    async handle(event, tx) {
      await spec.handle(event, tx);
      afterEffects([event], "alone");
    },
    ...(handleBatch && {
      async handleBatch(events, tx) {
        await handleBatch(events, tx);
        afterEffects(events, "batch");
      },
    }),
  };
  return {
    spec: faulty,
    /** How often a victim was handled, the failed time included. */
    attempts: () => attempts,
    /** Where the injected fault was thrown; undefined until a victim was handled. */
    failedIn: () => failedIn,
  };
}
