import { appendToOutbox, type TxSql } from "@codflow/shared";
import { CatalogRefusal } from "../domain/catalog-refusal.ts";
import { variantUpsertedEvents } from "./catalog-events.ts";

export async function updateVariant(
  tx: TxSql,
  namespace: string,
  variantId: string,
  change: { priceMinor?: number | undefined; active?: boolean | undefined },
) {
  const [variant] = await tx`
    update variants
    set price_minor = coalesce(${change.priceMinor ?? null}::int, price_minor),
        active = coalesce(${change.active ?? null}::boolean, active),
        revision = revision + 1, updated_at = now()
    where id = ${variantId}
    returning id`;
  if (!variant) throw new CatalogRefusal("variant-unknown", `no variant ${variantId}`);
  await appendToOutbox(tx, namespace, await variantUpsertedEvents(tx, [variantId]));
}

/**
 * Sets the counted stock and appends the `adjust` ledger row with the difference, in one
 * statement; refuses to go below what reservations and orders already hold.
 */
export async function setOnHand(tx: TxSql, variantId: string, onHand: number) {
  const [level] = await tx<{ reserved: number; committed: number; updated: boolean }[]>`
    with previous as (
      select variant_id, on_hand, reserved, committed
      from stock_levels where variant_id = ${variantId} for update
    ), updated as (
      update stock_levels s set on_hand = ${onHand}
      from previous p
      where s.variant_id = p.variant_id and ${onHand} >= p.reserved + p.committed
      returning s.variant_id, s.on_hand - p.on_hand as delta
    ), ledger as (
      insert into stock_movements (variant_id, kind, on_hand_delta)
      select variant_id, 'adjust', delta from updated
    )
    select p.reserved, p.committed, exists (select 1 from updated) as updated from previous p`;
  if (!level) throw new CatalogRefusal("variant-unknown", `no variant ${variantId}`);
  if (!level.updated) {
    throw new CatalogRefusal(
      "stock-below-allocated",
      `on hand ${onHand} is below the ${level.reserved} reserved + ${level.committed} committed units`,
    );
  }
}
