import { appendToOutbox, type TxSql } from "@codflow/shared";
import { v7 as uuidv7 } from "uuid";
import { CatalogRefusal } from "../domain/catalog-refusal.ts";

export interface NewVendor {
  name: string;
  slug: string;
}

/** Inserts the vendor and its `inventory.vendor_upserted` in the caller's transaction. */
export async function createVendor(tx: TxSql, namespace: string, input: NewVendor) {
  const [vendor] = await tx<{ id: string; name: string; slug: string; revision: bigint }[]>`
    insert into vendors (id, name, slug) values (${uuidv7()}, ${input.name}, ${input.slug})
    on conflict (slug) do nothing
    returning id, name, slug, revision`;
  if (!vendor) throw new CatalogRefusal("slug-taken", `a vendor with slug "${input.slug}" exists`);
  await appendToOutbox(tx, namespace, [
    {
      type: "inventory.vendor_upserted",
      correlationId: vendor.id,
      data: {
        vendorId: vendor.id,
        name: vendor.name,
        slug: vendor.slug,
        revision: Number(vendor.revision),
      },
    },
  ]);
  return { id: vendor.id, name: vendor.name, slug: vendor.slug };
}
