import type { NewEvent, TxSql } from "@codflow/shared";
import { isSellable, lineTitle } from "../domain/sellable.ts";

interface VariantRow {
  variantId: string;
  productId: string;
  productSlug: string;
  vendorId: string;
  sku: string;
  productTitle: string;
  variantTitle: string | null;
  priceMinor: number;
  currency: string;
  variantActive: boolean;
  productActive: boolean;
  archived: boolean;
  vendorActive: boolean;
  revision: bigint;
}

/**
 * `inventory.variant_upserted` for each variant, read after the change in the same transaction:
 * the caller has already bumped each variant's revision (holding its row lock), so replicas can
 * drop an event older than what they hold.
 */
export async function variantUpsertedEvents(tx: TxSql, variantIds: string[]): Promise<NewEvent[]> {
  const rows = await tx<VariantRow[]>`
    select v.id as "variantId", v.product_id as "productId", p.slug as "productSlug",
           p.vendor_id as "vendorId", v.sku, p.title as "productTitle", v.title as "variantTitle",
           v.price_minor as "priceMinor", v.currency, v.active as "variantActive",
           p.active as "productActive", p.archived_at is not null as archived,
           vd.active as "vendorActive", v.revision
    from variants v
    join products p on p.id = v.product_id
    join vendors vd on vd.id = p.vendor_id
    where v.id = any(${variantIds}::uuid[])
    order by v.id`;
  return rows.map((row) => ({
    type: "inventory.variant_upserted",
    correlationId: row.variantId,
    data: {
      variantId: row.variantId,
      productId: row.productId,
      productSlug: row.productSlug,
      vendorId: row.vendorId,
      sku: row.sku,
      title: lineTitle(row.productTitle, row.variantTitle),
      priceMinor: row.priceMinor,
      currency: row.currency,
      sellable: isSellable(row),
      revision: Number(row.revision),
    },
  }));
}
