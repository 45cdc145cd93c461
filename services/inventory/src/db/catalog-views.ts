import type { Sql, TxSql } from "@codflow/shared";
import { isSellable } from "../domain/sellable.ts";
import type { DbTimestamp } from "./timestamps.ts";

export interface StockView {
  onHand: number;
  reserved: number;
  committed: number;
  availableQty: number;
}

export interface VariantView {
  id: string;
  productId: string;
  sku: string;
  title: string | null;
  priceMinor: number;
  currency: string;
  active: boolean;
  sellable: boolean;
  stock: StockView;
}

export interface ProductView {
  id: string;
  vendorId: string;
  slug: string;
  title: string;
  active: boolean;
  archivedAt: DbTimestamp | null;
  createdAt: DbTimestamp;
  updatedAt: DbTimestamp;
  variants: VariantView[];
}

interface VariantRow {
  id: string;
  productId: string;
  sku: string;
  title: string | null;
  priceMinor: number;
  currency: string;
  active: boolean;
  productActive: boolean;
  archived: boolean;
  vendorActive: boolean;
  onHand: number;
  reserved: number;
  committed: number;
}

const toVariantView = (row: VariantRow): VariantView => ({
  id: row.id,
  productId: row.productId,
  sku: row.sku,
  title: row.title,
  priceMinor: row.priceMinor,
  currency: row.currency,
  active: row.active,
  sellable: isSellable({ ...row, variantActive: row.active }),
  stock: {
    onHand: row.onHand,
    reserved: row.reserved,
    committed: row.committed,
    availableQty: row.onHand - row.reserved - row.committed,
  },
});

const selectVariants = (
  sql: Sql | TxSql,
  where: { productId: string } | { variantId: string },
) => sql<VariantRow[]>`
  select v.id, v.product_id as "productId", v.sku, v.title, v.price_minor as "priceMinor",
         v.currency, v.active, p.active as "productActive", p.archived_at is not null as archived,
         vd.active as "vendorActive", s.on_hand as "onHand", s.reserved, s.committed
  from variants v
  join products p on p.id = v.product_id
  join vendors vd on vd.id = p.vendor_id
  join stock_levels s on s.variant_id = v.id
  where ${"productId" in where ? sql`v.product_id = ${where.productId}` : sql`v.id = ${where.variantId}`}
  order by v.created_at, v.id`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A product with its variants and stock, by id or by slug; undefined when there is none. */
export async function loadProduct(
  sql: Sql | TxSql,
  idOrSlug: string,
): Promise<ProductView | undefined> {
  const [product] = await sql<Omit<ProductView, "variants">[]>`
    select id, vendor_id as "vendorId", slug, title, active, archived_at as "archivedAt",
           created_at as "createdAt", updated_at as "updatedAt"
    from products
    where ${UUID.test(idOrSlug) ? sql`id = ${idOrSlug}` : sql`slug = ${idOrSlug}`}`;
  if (!product) return undefined;
  const variants = await selectVariants(sql, { productId: product.id });
  return { ...product, variants: variants.map(toVariantView) };
}

export async function loadVariant(
  sql: Sql | TxSql,
  variantId: string,
): Promise<VariantView | undefined> {
  const [row] = await selectVariants(sql, { variantId });
  return row ? toVariantView(row) : undefined;
}
