import type { Logger, Metrics, Sql } from "@codflow/shared";
import { CHECKOUT_STATUS_CHANNEL } from "./db/checkout-outcomes.ts";
import { type CheckoutView, loadCheckoutViews } from "./db/checkouts.ts";

interface Waiter {
  deliver(view: CheckoutView): void;
  end(): void;
}

export interface StatusWatch {
  /**
   * The checkout now, then each change of its status; ends after a terminal status, when
   * `signal` aborts, or when the watch closes. Yields nothing for an unknown checkout. With
   * `known` (what the caller just wrote), the checkout is not read first: see watchCheckout.
   */
  watchCheckout(
    id: string,
    signal: AbortSignal,
    known?: CheckoutView,
  ): AsyncGenerator<CheckoutView>;
  /** Re-reads every watched checkout now. */
  wake(): void;
  /** Ends every open watch (SSE streams close, waits answer) and stops listening. */
  close(): Promise<void>;
  /** Open watches, for tests and metrics. */
  waiterCount(): number;
}

/**
 * One LISTEN per process on CHECKOUT_STATUS_CHANNEL fans status changes out to in-memory
 * waiters keyed by checkout id. Every `pollMs` the watched checkouts not read for that long are
 * re-read in one query, so a missed notification (a process that died between its commit and
 * its NOTIFY) costs at most twice that; when the LISTEN connection comes back, every watched
 * checkout is re-read at once. Re-reading all of them every poll was most of the rows this watch
 * read under load (2.7 reads per checkout at 300/s, where one notification each is enough).
 * Works across replicas: whichever process commits a change, all of them hear it.
 */
export function startStatusWatch({
  sql,
  logger,
  pollMs = 1000,
  metrics,
}: {
  sql: Sql;
  logger: Logger;
  pollMs?: number;
  /** Where to report the open watches (`codflow_checkout_status_watches`), e.g. for a soak. */
  metrics?: Pick<Metrics, "scrapeGauges">;
}): StatusWatch {
  const waiters = new Map<string, Set<Waiter>>();
  /** When each watched checkout was last read, or its first waiter registered (performance.now). */
  const readAt = new Map<string, number>();
  const notified = new Set<string>();
  let flushScheduled = false;
  let polling = false;
  let closed = false;

  const refresh = async (ids: string[]) => {
    if (ids.length === 0) return;
    const at = performance.now();
    for (const id of ids) if (waiters.has(id)) readAt.set(id, at);
    for (const [id, view] of await loadCheckoutViews(sql, ids)) {
      for (const waiter of waiters.get(id) ?? []) waiter.deliver(view);
    }
  };
  const refreshInBackground = (ids: string[]) =>
    refresh(ids).catch((err) => logger.warn({ err }, "re-reading watched checkouts failed"));

  const onNotification = (id: string) => {
    if (!waiters.has(id)) return;
    notified.add(id);
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(() => {
      flushScheduled = false;
      const ids = [...notified];
      notified.clear();
      void refreshInBackground(ids);
    });
  };
  /** Re-reads the watched checkouts not read since `before` (all of them by default). */
  const reread = (before = Number.POSITIVE_INFINITY) => {
    if (polling || closed) return;
    const ids = [...waiters.keys()].filter((id) => (readAt.get(id) ?? 0) <= before);
    if (ids.length === 0) return;
    polling = true;
    void refreshInBackground(ids).finally(() => {
      polling = false;
    });
  };
  const wake = () => reread();

  const listening = sql.listen(CHECKOUT_STATUS_CHANNEL, onNotification, wake).catch((err) => {
    logger.warn({ err }, "LISTEN for checkout status failed; re-reading every poll only");
    return undefined;
  });
  const poll = setInterval(() => reread(performance.now() - pollMs), pollMs);
  poll.unref();

  const add = (id: string, waiter: Waiter) => {
    const set = waiters.get(id) ?? new Set();
    set.add(waiter);
    waiters.set(id, set);
    if (!readAt.has(id)) readAt.set(id, performance.now());
  };
  const remove = (id: string, waiter: Waiter) => {
    const set = waiters.get(id);
    set?.delete(waiter);
    if (set?.size === 0) {
      waiters.delete(id);
      readAt.delete(id);
    }
  };

  async function* watchCheckout(
    id: string,
    signal: AbortSignal,
    known?: CheckoutView,
  ): AsyncGenerator<CheckoutView> {
    let latest: CheckoutView | undefined;
    let ended = false;
    let resume: (() => void) | undefined;
    const waiter: Waiter = {
      deliver(view) {
        // A terminal status is final: a slower, older read must not replace it.
        if (latest && latest.status !== "processing") return;
        latest = view;
        resume?.();
      },
      end() {
        ended = true;
        resume?.();
      },
    };
    const onAbort = () => waiter.end();
    signal.addEventListener("abort", onAbort, { once: true });
    add(id, waiter);
    try {
      if (signal.aborted || closed) return;
      // The waiter is registered first, then the checkout read, so no change slips between.
      // A caller that just committed the checkout `processing` skips that read (one round trip
      // per Prefer: wait). An outcome committed before this waiter registered would wake no
      // one: the poll is the fallback, at most 2 × pollMs late. An outcome takes the saga's hops,
      // which begin only after that commit, so it does not come that early in practice.
      if (known) waiter.deliver(known);
      else await refresh([id]);
      let shown: CheckoutView["status"] | undefined;
      while (!ended && latest) {
        if (latest.status !== shown) {
          shown = latest.status;
          yield latest;
          if (shown !== "processing") return;
          continue;
        }
        await new Promise<void>((resolve) => {
          resume = resolve;
        });
        resume = undefined;
      }
    } finally {
      remove(id, waiter);
      signal.removeEventListener("abort", onAbort);
    }
  }

  const waiterCount = () => [...waiters.values()].reduce((n, set) => n + set.size, 0);
  metrics?.scrapeGauges(
    {
      watches: [
        "codflow_checkout_status_watches",
        "Open status watches held in memory: SSE streams and Prefer: wait requests waiting for a terminal state.",
      ],
    },
    async () => ({ watches: waiterCount() }),
    () => logger,
  );

  return {
    watchCheckout,
    wake,
    waiterCount,
    async close() {
      closed = true;
      clearInterval(poll);
      for (const set of waiters.values()) for (const waiter of set) waiter.end();
      const listener = await listening;
      await listener?.unlisten();
    },
  };
}

/**
 * Waits up to `ms` for the checkout to leave `processing` (Prefer: wait); undefined when it
 * has not, so the caller answers 202 as usual. `known`: as in watchCheckout.
 */
export async function waitForOutcome(
  watch: StatusWatch,
  id: string,
  { ms, signal, known }: { ms: number; signal: AbortSignal; known?: CheckoutView | undefined },
): Promise<CheckoutView | undefined> {
  let last: CheckoutView | undefined;
  for await (const view of watch.watchCheckout(
    id,
    AbortSignal.any([signal, AbortSignal.timeout(ms)]),
    known,
  )) {
    last = view;
  }
  return last && last.status !== "processing" ? last : undefined;
}
