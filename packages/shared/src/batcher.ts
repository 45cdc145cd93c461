/*
 * Group commit for request handlers: the calls made while earlier work is on its way to
 * PostgreSQL wait, then go together in one batch: one round trip (or one transaction) for many
 * requests instead of one each. Batches form by themselves under load: an idle service sends
 * each call alone after the event-loop turn it arrived in, a busy one sends whatever queued while
 * its `concurrency` batches were in flight.
 */

export interface BatcherOptions<I> {
  /** Batches in flight at once; calls made meanwhile queue for the next batch. */
  concurrency: number;
  /** The most calls one batch takes; the rest wait for the next. */
  maxSize: number;
  /** Calls with one key never share a batch: a later one waits for the next batch. */
  keyOf?: (item: I) => string;
}

/** Runs a batch: one settlement per item, in the items' order. */
export type RunBatch<I, O> = (items: I[]) => Promise<PromiseSettledResult<O>[]>;

interface Queued<I, O> {
  item: I;
  resolve(value: O): void;
  reject(reason: unknown): void;
}

/**
 * ```ts
 * const hits = new Batcher((keys: string[]) => countHits(sql, keys), { concurrency: 4, maxSize: 100 });
 * const count = await hits.add("customer:42");
 * ```
 * A batch that throws rejects each of its calls with the error.
 */
export class Batcher<I, O> {
  #queue: Queued<I, O>[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(
    private readonly run: RunBatch<I, O>,
    private readonly options: BatcherOptions<I>,
  ) {}

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  /** Calls waiting for a batch (not those in flight). */
  get queued() {
    return this.#queue.length;
  }

  #schedule() {
    if (this.#scheduled || this.#inFlight >= this.options.concurrency) return;
    this.#scheduled = true;
    // after this turn's I/O: every call made in it joins the batch
    setImmediate(() => {
      this.#scheduled = false;
      while (this.#queue.length > 0 && this.#inFlight < this.options.concurrency) {
        void this.#send(this.#take());
      }
    });
  }

  #take(): Queued<I, O>[] {
    const { keyOf, maxSize } = this.options;
    if (!keyOf) return this.#queue.splice(0, maxSize);
    const batch: Queued<I, O>[] = [];
    const later: Queued<I, O>[] = [];
    const keys = new Set<string>();
    for (const queued of this.#queue) {
      const key = keyOf(queued.item);
      if (batch.length < maxSize && !keys.has(key)) {
        keys.add(key);
        batch.push(queued);
      } else {
        later.push(queued);
      }
    }
    this.#queue = later;
    return batch;
  }

  async #send(batch: Queued<I, O>[]) {
    this.#inFlight++;
    try {
      const settled = await this.run(batch.map((queued) => queued.item));
      batch.forEach((queued, i) => {
        const result = settled[i];
        if (!result) queued.reject(new Error(`batch settled ${settled.length} of ${batch.length}`));
        else if (result.status === "fulfilled") queued.resolve(result.value);
        else queued.reject(result.reason);
      });
    } catch (err) {
      for (const queued of batch) queued.reject(err);
    } finally {
      this.#inFlight--;
      if (this.#queue.length > 0) this.#schedule();
    }
  }
}
