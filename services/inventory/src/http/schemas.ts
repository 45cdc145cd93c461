import { z } from "@hono/zod-openapi";
import type { ProductView, VariantView } from "../db/catalog-views.ts";
import { isoTimestamp } from "../db/timestamps.ts";

const INT_MAX = 2_147_483_647;

export const slug = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, "lower-case letters, digits and single hyphens")
  .openapi({ example: "blue-mug" });
export const sku = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-'")
  .openapi({ example: "MUG-BLUE-350" });
export const priceMinor = z.number().int().min(0).max(INT_MAX).openapi({ example: 1299 });
export const currency = z
  .string()
  .regex(/^[A-Z]{3}$/, "ISO 4217 code")
  .openapi({ example: "EUR" });
export const units = z.number().int().min(0).max(INT_MAX);
const title = z.string().trim().min(1).max(200);

export const idParams = z.object({ id: z.uuid().openapi({ param: { name: "id", in: "path" } }) });

export const vendorSchema = z
  .object({ id: z.uuid(), name: z.string(), slug: z.string() })
  .openapi("Vendor");

export const newVendorSchema = z.object({ name: title, slug }).openapi("NewVendor");

export const newProductSchema = z
  .object({
    vendorId: z.uuid(),
    slug,
    title,
    variants: z
      .array(z.object({ sku, title: title.optional(), priceMinor, currency, stock: units }))
      .min(1)
      .max(100)
      .superRefine((variants, ctx) => {
        const seen = new Set<string>();
        for (const [i, v] of variants.entries()) {
          if (seen.has(v.sku))
            ctx.addIssue({ code: "custom", path: [i, "sku"], message: "sku repeated" });
          seen.add(v.sku);
        }
      }),
  })
  .openapi("NewProduct");

const atLeastOne = (value: Record<string, unknown>) =>
  Object.values(value).some((v) => v !== undefined);

export const productChangeSchema = z
  .object({ active: z.boolean().optional(), title: title.optional() })
  .refine(atLeastOne, "send active or title")
  .openapi("ProductChange");

export const variantChangeSchema = z
  .object({ priceMinor: priceMinor.optional(), active: z.boolean().optional() })
  .refine(atLeastOne, "send priceMinor or active")
  .openapi("VariantChange");

export const stockChangeSchema = z.object({ onHand: units }).openapi("StockChange");

const stockSchema = z
  .object({ onHand: units, reserved: units, committed: units, availableQty: z.number().int() })
  .openapi("Stock");

export const adminVariantSchema = z
  .object({
    id: z.uuid(),
    productId: z.uuid(),
    sku: z.string(),
    title: z.string().nullable(),
    priceMinor,
    currency,
    active: z.boolean(),
    sellable: z.boolean(),
    stock: stockSchema,
  })
  .openapi("AdminVariant");

export const adminProductSchema = z
  .object({
    id: z.uuid(),
    vendorId: z.uuid(),
    slug: z.string(),
    title: z.string(),
    active: z.boolean(),
    archivedAt: z.iso.datetime().nullable(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    variants: z.array(adminVariantSchema),
  })
  .openapi("AdminProduct");

export const publicProductSchema = z
  .object({
    id: z.uuid(),
    slug: z.string(),
    title: z.string(),
    vendorId: z.uuid(),
    active: z.boolean().openapi({ description: "false when the product is inactive or archived" }),
    variants: z.array(
      z.object({
        id: z.uuid(),
        sku: z.string(),
        title: z.string().nullable(),
        priceMinor,
        currency,
        active: z.boolean(),
        available: z.boolean().openapi({ description: "sellable and at least one unit free" }),
        availableQty: z.number().int(),
      }),
    ),
  })
  .openapi("Product");

export const toAdminVariant = (v: VariantView): z.infer<typeof adminVariantSchema> => v;

export const toAdminProduct = (p: ProductView): z.infer<typeof adminProductSchema> => ({
  ...p,
  archivedAt: p.archivedAt === null ? null : isoTimestamp(p.archivedAt),
  createdAt: isoTimestamp(p.createdAt),
  updatedAt: isoTimestamp(p.updatedAt),
  variants: p.variants.map(toAdminVariant),
});

export const toPublicProduct = (p: ProductView): z.infer<typeof publicProductSchema> => ({
  id: p.id,
  slug: p.slug,
  title: p.title,
  vendorId: p.vendorId,
  active: p.active && p.archivedAt === null,
  variants: p.variants.map((v) => ({
    id: v.id,
    sku: v.sku,
    title: v.title,
    priceMinor: v.priceMinor,
    currency: v.currency,
    active: v.active,
    available: v.sellable && v.stock.availableQty > 0,
    availableQty: v.stock.availableQty,
  })),
});
