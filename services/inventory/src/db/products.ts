import { appendToOutbox, type TxSql } from "@codflow/shared";
import { v7 as uuidv7 } from "uuid";
import { CatalogRefusal } from "../domain/catalog-refusal.ts";
import { variantUpsertedEvents } from "./catalog-events.ts";

export interface NewProduct {
  vendorId: string;
  slug: string;
  title: string;
  variants: {
    sku: string;
    title?: string | undefined;
    priceMinor: number;
    currency: string;
    stock: number;
  }[];
}

/**
 * Inserts the product, its variants, their stock levels and the `adjust` ledger rows that
 * explain them, plus one `inventory.variant_upserted` per variant; returns the product id.
 */
export async function createProduct(tx: TxSql, namespace: string, input: NewProduct) {
  const [vendor] = await tx`select 1 from vendors where id = ${input.vendorId}`;
  if (!vendor) throw new CatalogRefusal("vendor-unknown", `no vendor ${input.vendorId}`);
  const productId = uuidv7();
  const [product] = await tx`
    insert into products (id, vendor_id, slug, title)
    values (${productId}, ${input.vendorId}, ${input.slug}, ${input.title})
    on conflict (slug) do nothing
    returning id`;
  if (!product)
    throw new CatalogRefusal("slug-taken", `a product with slug "${input.slug}" exists`);

  const variants = input.variants.map((v) => ({ ...v, id: uuidv7() }));
  const inserted = await tx<{ sku: string }[]>`
    insert into variants (id, product_id, sku, title, price_minor, currency)
    select id, ${productId}, sku, title, price_minor, currency
    from unnest(${variants.map((v) => v.id)}::uuid[], ${variants.map((v) => v.sku)}::text[],
                ${variants.map((v) => v.title ?? null)}::text[], ${variants.map((v) => v.priceMinor)}::int[],
                ${variants.map((v) => v.currency)}::text[])
         as v(id, sku, title, price_minor, currency)
    on conflict (sku) do nothing
    returning sku`;
  if (inserted.length < variants.length) {
    const free = new Set(inserted.map((r) => r.sku));
    const taken = variants.filter((v) => !free.has(v.sku)).map((v) => v.sku);
    throw new CatalogRefusal("sku-taken", `these skus exist: ${taken.join(", ")}`);
  }

  await tx`
    with stock as (
      select * from unnest(${variants.map((v) => v.id)}::uuid[], ${variants.map((v) => v.stock)}::int[])
             as s(variant_id, on_hand)
    ), levels as (
      insert into stock_levels (variant_id, on_hand) select variant_id, on_hand from stock
    )
    insert into stock_movements (variant_id, kind, on_hand_delta)
    select variant_id, 'adjust', on_hand from stock`;
  await appendToOutbox(
    tx,
    namespace,
    await variantUpsertedEvents(
      tx,
      variants.map((v) => v.id),
    ),
  );
  return productId;
}

/**
 * Every variant of the product gets a new revision and an `inventory.variant_upserted`: its
 * title and sellability derive from the product's.
 */
async function announceVariantsOf(tx: TxSql, namespace: string, productId: string) {
  const bumped = await tx<{ id: string }[]>`
    update variants set revision = revision + 1, updated_at = now()
    where product_id = ${productId}
    returning id`;
  await appendToOutbox(
    tx,
    namespace,
    await variantUpsertedEvents(
      tx,
      bumped.map((v) => v.id),
    ),
  );
}

export async function updateProduct(
  tx: TxSql,
  namespace: string,
  productId: string,
  change: { active?: boolean | undefined; title?: string | undefined },
) {
  const [product] = await tx`
    update products
    set title = coalesce(${change.title ?? null}::text, title),
        active = coalesce(${change.active ?? null}::boolean, active),
        revision = revision + 1, updated_at = now()
    where id = ${productId}
    returning id`;
  if (!product) throw new CatalogRefusal("product-unknown", `no product ${productId}`);
  await announceVariantsOf(tx, namespace, productId);
}

/** Archiving is one-way and idempotent: archiving an archived product changes nothing. */
export async function archiveProduct(tx: TxSql, namespace: string, productId: string) {
  const [product] = await tx<{ archivedNow: boolean }[]>`
    with target as (
      select id, archived_at from products where id = ${productId} for update
    ), archived as (
      update products p set archived_at = now(), revision = p.revision + 1, updated_at = now()
      from target t where p.id = t.id and t.archived_at is null
      returning p.id
    )
    select exists (select 1 from archived) as "archivedNow" from target`;
  if (!product) throw new CatalogRefusal("product-unknown", `no product ${productId}`);
  if (product.archivedNow) await announceVariantsOf(tx, namespace, productId);
}
