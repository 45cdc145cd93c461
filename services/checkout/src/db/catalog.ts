import type { EventData, Sql, TxSql } from "@codflow/shared";

export type VariantDescription = EventData<"inventory.variant_upserted">;

/**
 * Keeps the newest description of a variant: an older or repeated revision (redelivery, events
 * crossing) changes nothing. One prepared statement; the row lock of the upsert decides races.
 */
export async function upsertCatalogVariant(sql: Sql | TxSql, v: VariantDescription) {
  const applied = await sql`
    insert into catalog_variants (variant_id, product_id, product_slug, vendor_id, sku, title,
                                  price_minor, currency, sellable, revision)
    values (${v.variantId}, ${v.productId}, ${v.productSlug}, ${v.vendorId}, ${v.sku}, ${v.title},
            ${v.priceMinor}, ${v.currency}, ${v.sellable}, ${v.revision})
    on conflict (variant_id) do update
    set product_id = excluded.product_id, product_slug = excluded.product_slug,
        vendor_id = excluded.vendor_id, sku = excluded.sku, title = excluded.title,
        price_minor = excluded.price_minor, currency = excluded.currency,
        sellable = excluded.sellable, revision = excluded.revision, updated_at = now()
    where catalog_variants.revision < excluded.revision
    returning 1`;
  return applied.length > 0;
}

export interface CatalogPrice {
  priceMinor: number;
  currency: string;
  sellable: boolean;
}

export async function findCatalogPrice(sql: Sql | TxSql, variantId: string) {
  const [row] = await sql<CatalogPrice[]>`
    select price_minor as "priceMinor", currency, sellable
    from catalog_variants where variant_id = ${variantId}`;
  return row;
}

export async function catalogTitles(sql: Sql | TxSql, variantIds: string[]) {
  const rows = await sql<{ variantId: string; title: string }[]>`
    select variant_id as "variantId", title from catalog_variants
    where variant_id = any(${variantIds}::uuid[])`;
  return new Map(rows.map((r) => [r.variantId, r.title]));
}
