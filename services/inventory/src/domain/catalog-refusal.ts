/** Why the catalog refused a change; the HTTP layer maps each to its problem+json slug. */
export type CatalogRefusalCode =
  | "slug-taken"
  | "sku-taken"
  | "vendor-unknown"
  | "product-unknown"
  | "variant-unknown"
  | "stock-below-allocated";

/** Thrown inside a transaction so it rolls back; carries a detail a client can act on. */
export class CatalogRefusal extends Error {
  override name = "CatalogRefusal";
  constructor(
    readonly code: CatalogRefusalCode,
    readonly detail: string,
  ) {
    super(detail);
  }
}
