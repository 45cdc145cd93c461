import type { Sql, TxSql } from "./db.ts";

/*
 * What to do once a transaction opened by `inTransaction` has committed, in this process.
 *
 * Chiefly: wake this process's workers (the outbox relay, the mailer) and tell status watchers,
 * without a NOTIFY inside the writing transaction. PostgreSQL serialises the commit of every
 * transaction that called NOTIFY, cluster-wide, behind one lock held through its WAL flush, so
 * notifying writers lose group commit: pgbench here, 32 clients inserting one row each,
 * 4,400 tps plain → 330 tps with `pg_notify` in the same statement → 2,600 tps with the
 * `pg_notify` as a statement of its own after the commit (it writes no WAL, so it holds that lock
 * only for a moment).
 *
 * Nothing is lost when this process dies between the commit and its wake-ups: workers in every
 * process also poll, and any relay may publish any process's outbox rows.
 */

type AfterCommit = (sql: Sql) => void | Promise<void>;

/**
 * What a transaction collected: work to run, and channels whose local workers to wake (once
 * each); and the client it runs on.
 */
interface Collected {
  sql: Sql;
  work: AfterCommit[];
  wake: Set<string>;
}

const pending = new WeakMap<TxSql, Collected>();
const localWakers = new Map<string, Set<() => void>>();

/** For `inTransaction`: `tx`, opened on `sql`, may now collect after-commit work. */
export function trackTransaction(tx: TxSql, sql: Sql): void {
  pending.set(tx, { sql, work: [], wake: new Set() });
}

/** The client `inTransaction` opened `tx` on; undefined for any other transaction or client. */
export function clientOf(tx: TxSql | Sql): Sql | undefined {
  return pending.get(tx as TxSql)?.sql;
}

let reportError: (err: unknown) => void = (err) =>
  process.emitWarning(`after-commit work failed: ${(err as Error)?.message ?? err}`);

/** Where failures of after-commit work are reported (the platform passes its logger). */
export function onAfterCommitError(report: (err: unknown) => void): void {
  reportError = report;
}

/**
 * For `inTransaction`: runs what `tx` collected. A failure is reported, not thrown: the data is
 * committed, and every worker's poll is the fallback.
 */
export function runAfterCommit(tx: TxSql, sql: Sql): void {
  const onError = reportError;
  const collected = pending.get(tx);
  pending.delete(tx);
  if (!collected) return;
  for (const channel of collected.wake) wakeLocally(channel);
  for (const fn of collected.work) {
    try {
      void Promise.resolve(fn(sql)).catch(onError);
    } catch (err) {
      onError(err);
    }
  }
}

/** For `inTransaction` when the transaction rolled back: drops what `tx` collected. */
export function forgetTransaction(tx: TxSql): void {
  pending.delete(tx);
}

/**
 * Queues `fn` for after `sql`'s commit when `sql` is a transaction `inTransaction` opened;
 * returns false otherwise (the caller must then do without, e.g. NOTIFY in its statement).
 */
export function afterCommit(sql: TxSql | Sql, fn: AfterCommit): boolean {
  const collected = pending.get(sql as TxSql);
  collected?.work.push(fn);
  return collected !== undefined;
}

/**
 * Wakes this process's workers on `channel` once `sql` commits (see `afterCommit`); returns
 * false when `sql` is not a transaction `inTransaction` opened.
 */
export function wakeAfterCommit(sql: TxSql | Sql, channel: string): boolean {
  const collected = pending.get(sql as TxSql);
  collected?.wake.add(channel);
  return collected !== undefined;
}

/** Wakes the workers of this process listening on `channel` (startWorkerLoop registers them). */
export function wakeLocally(channel: string): void {
  for (const wake of localWakers.get(channel) ?? []) wake();
}

/** Registers a worker's wake-up for `channel`; returns its removal. */
export function onLocalWake(channel: string, wake: () => void): () => void {
  const wakers = localWakers.get(channel) ?? new Set<() => void>();
  localWakers.set(channel, wakers);
  wakers.add(wake);
  return () => {
    wakers.delete(wake);
    if (wakers.size === 0) localWakers.delete(channel);
  };
}
