import type { TxSql } from "@codflow/shared";

/**
 * Holds the checkouts' locks until the transaction ends, serialising the two transactions that
 * decide a checkout's fate here: creating its order (`inventory.reserved`) and aborting it
 * (`checkout.failed`). They write different tables (`orders`, `voided_checkouts`), so no unique
 * key makes one wait for the other: under READ COMMITTED both could run at once, neither seeing
 * the other's uncommitted row, and a confirmed order would outlive its failed checkout. With the
 * lock, whichever commits second sees the first one's row. Take it in a statement of its own,
 * BEFORE the statement that reads the other side: a statement sees what was committed when it
 * started, so only a later statement sees what the lock's previous holder committed.
 *
 * A batch takes all its locks in one statement, in the order of their keys (the planner calls a
 * volatile function in the select list after the sort), so two batches sharing checkouts queue
 * behind each other instead of deadlocking.
 */
export async function lockCheckouts(tx: TxSql, checkoutIds: readonly string[]) {
  await tx`
    select pg_advisory_xact_lock(key)
    from (select distinct hashtextextended('orders.checkout:' || id, 0) as key
          from unnest(${checkoutIds}::text[]) as id) as keys
    order by key`;
}
