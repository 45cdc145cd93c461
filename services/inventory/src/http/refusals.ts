import { HttpProblem } from "@codflow/shared";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { CatalogRefusal, type CatalogRefusalCode } from "../domain/catalog-refusal.ts";

const PROBLEMS: Record<
  CatalogRefusalCode,
  { status: ContentfulStatusCode; slug: string; title: string }
> = {
  "slug-taken": { status: 409, slug: "slug-taken", title: "The slug is taken" },
  "sku-taken": { status: 409, slug: "sku-taken", title: "The sku is taken" },
  "vendor-unknown": { status: 422, slug: "vendor-unknown", title: "Unknown vendor" },
  "product-unknown": { status: 404, slug: "not-found", title: "Product not found" },
  "variant-unknown": { status: 404, slug: "not-found", title: "Variant not found" },
  "stock-below-allocated": {
    status: 409,
    slug: "stock-below-allocated",
    title: "Stock below what is allocated",
  },
};

/** The one place catalog refusals become problem+json; anything else is rethrown as it is. */
export function asProblem(err: unknown): never {
  if (err instanceof CatalogRefusal) {
    const { status, slug, title } = PROBLEMS[err.code];
    throw new HttpProblem(status, slug, title, err.detail);
  }
  throw err;
}
