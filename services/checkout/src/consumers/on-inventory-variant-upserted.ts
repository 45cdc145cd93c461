/**
 * checkout.catalog-replica — on `inventory.variant_upserted`: keeps the replica of variants
 * (price, currency, sellable) that carts are priced from, applying only a newer revision.
 * Emits: nothing.
 * Undone by: nothing to undo; a later revision of the same variant replaces it.
 */
import type { ConsumerSpec } from "@codflow/shared";
import { upsertCatalogVariant } from "../db/catalog.ts";

export function onInventoryVariantUpserted(): ConsumerSpec<"inventory.variant_upserted"> {
  return {
    name: "checkout.catalog-replica",
    type: "inventory.variant_upserted",
    async handle(event, tx) {
      await upsertCatalogVariant(tx.sql, event.data);
    },
  };
}
