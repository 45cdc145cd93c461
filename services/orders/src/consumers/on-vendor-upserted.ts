import type { ConsumerSpec } from "@codflow/shared";

/**
 * Keeps the local vendors replica that order items reference (`order_items.vendor_id`).
 * Upserts a vendor only when the event carries a newer revision, so a late, older event never
 * overwrites a newer one. Emits nothing; nothing to undo (a later revision supersedes it).
 */
export function onVendorUpserted(): ConsumerSpec<"inventory.vendor_upserted"> {
  return {
    name: "orders.vendor-replica",
    type: "inventory.vendor_upserted",
    async handle({ data }, tx) {
      await tx.sql`
        insert into vendors (id, name, slug, revision)
        values (${data.vendorId}, ${data.name}, ${data.slug}, ${data.revision})
        on conflict (id) do update
          set name = excluded.name, slug = excluded.slug, revision = excluded.revision,
              updated_at = now()
          where vendors.revision < excluded.revision`;
    },
  };
}
