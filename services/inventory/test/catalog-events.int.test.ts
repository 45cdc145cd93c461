import { streamName } from "@codflow/shared";
import { waitFor } from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AdminProduct,
  bodyOf,
  type Inventory,
  outboxEvents,
  startInventory,
  type Vendor,
} from "./helpers.ts";

let fx: Inventory;
beforeAll(async () => {
  fx = await startInventory();
});
afterAll(() => fx.close());

interface VariantUpserted {
  variantId: string;
  title: string;
  priceMinor: number;
  sellable: boolean;
  revision: number;
}

describe("catalog events", () => {
  it("announces every catalog change with a per-variant revision that only grows", async () => {
    const vendor = await bodyOf<Vendor>(
      fx.admin("POST", "/v1/admin/catalog/vendors", { name: "Acme", slug: "acme" }),
    );
    const product = await bodyOf<AdminProduct>(
      fx.admin("POST", "/v1/admin/catalog/products", {
        vendorId: vendor.id,
        slug: "mug",
        title: "Mug",
        variants: [
          { sku: "MUG-S", title: "Small", priceMinor: 900, currency: "EUR", stock: 3 },
          { sku: "MUG-L", priceMinor: 1200, currency: "EUR", stock: 3 },
        ],
      }),
    );
    const [small, large] = product.variants;
    await fx.admin("PATCH", `/v1/admin/catalog/variants/${small?.id}`, { priceMinor: 950 });
    await fx.admin("PATCH", `/v1/admin/catalog/products/${product.id}`, { title: "Big mug" });
    await fx.admin("PUT", `/v1/admin/catalog/variants/${large?.id}/stock`, { onHand: 9 });
    await fx.admin("DELETE", `/v1/admin/catalog/products/${product.id}`);

    const [vendorEvent] = await outboxEvents(fx, "inventory.vendor_upserted");
    expect(vendorEvent).toMatchObject({
      correlationId: vendor.id,
      data: { vendorId: vendor.id, name: "Acme", slug: "acme", revision: 1 },
    });

    const upserts = await outboxEvents<VariantUpserted>(fx, "inventory.variant_upserted");
    const history = (id?: string) =>
      upserts
        .filter((e) => e.data.variantId === id)
        .map(({ correlationId, data }) => ({ correlationId, ...data }));
    expect(history(small?.id)).toEqual([
      expect.objectContaining({
        correlationId: small?.id,
        title: "Mug - Small",
        priceMinor: 900,
        sellable: true,
        revision: 1,
      }),
      expect.objectContaining({
        title: "Mug - Small",
        priceMinor: 950,
        sellable: true,
        revision: 2,
      }),
      expect.objectContaining({
        title: "Big mug - Small",
        priceMinor: 950,
        sellable: true,
        revision: 3,
      }),
      expect.objectContaining({ title: "Big mug - Small", sellable: false, revision: 4 }),
    ]);
    // A stock count is not a catalog change: the large variant's revisions skip it.
    expect(history(large?.id).map((e) => [e.title, e.sellable, e.revision])).toEqual([
      ["Mug", true, 1],
      ["Big mug", true, 2],
      ["Big mug", false, 3],
    ]);
  });

  it("rolls a refused change back with its events", async () => {
    const before = (await outboxEvents(fx)).length;
    const res = await fx.admin("POST", "/v1/admin/catalog/vendors", {
      name: "Again",
      slug: "acme",
    });
    expect(res.status).toBe(409);
    expect((await outboxEvents(fx)).length).toBe(before);
  });

  it("publishes the catalog events to the inventory stream", async () => {
    fx.relay();
    const events = await outboxEvents(fx);
    await waitFor(
      async () => {
        const [row] =
          await fx.sql`select count(*)::int as n from outbox where published_at is null`;
        return row?.n === 0;
      },
      { what: "outbox published" },
    );
    const last = events.filter((e) => e.type === "inventory.variant_upserted").at(-1);
    const msg = await fx.broker.jsm.streams.getMessage(streamName(fx.namespace, "inventory"), {
      last_by_subj: `${fx.namespace}.inventory.variant_upserted`,
    });
    expect(msg?.json<{ id: string }>().id).toBe(last?.id);
    const info = await fx.broker.jsm.streams.info(streamName(fx.namespace, "inventory"));
    expect(info.state.messages).toBe(events.length);
  });
});
