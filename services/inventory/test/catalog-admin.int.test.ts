import { signToken, waitFor } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { onCheckoutRequested } from "../src/index.ts";
import {
  type AdminProduct,
  type AdminVariant,
  bodyOf,
  checkoutRequested,
  type Inventory,
  ledgerMismatches,
  type PublicProduct,
  seedProduct,
  startInventory,
  stockLevel,
  type Vendor,
} from "./helpers.ts";

let fx: Inventory;
beforeAll(async () => {
  fx = await startInventory();
});
afterAll(() => fx.close());

const problemOf = async (res: Response) => {
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  return (await res.json()) as {
    type: string;
    status: number;
    detail?: string;
    errors?: { path: string }[];
  };
};

describe("admin catalog: access", () => {
  it("answers 401 without a token or with a bad one, and 403 to a customer", async () => {
    const body = { name: "Acme", slug: "acme-access" };
    expect((await fx.admin("POST", "/v1/admin/catalog/vendors", body, null)).status).toBe(401);
    expect((await fx.admin("POST", "/v1/admin/catalog/vendors", body, "not-a-jwt")).status).toBe(
      401,
    );
    const customer = await signToken({ sub: "c-1", role: "customer" });
    const res = await fx.admin("POST", "/v1/admin/catalog/vendors", body, customer);
    expect(res.status).toBe(403);
    expect((await problemOf(res)).type).toMatch(/\/forbidden$/);
    for (const [method, path] of [
      ["POST", "/v1/admin/catalog/products"],
      ["PATCH", `/v1/admin/catalog/products/${uuidv7()}`],
      ["DELETE", `/v1/admin/catalog/products/${uuidv7()}`],
      ["PATCH", `/v1/admin/catalog/variants/${uuidv7()}`],
      ["PUT", `/v1/admin/catalog/variants/${uuidv7()}/stock`],
    ] as const) {
      expect((await fx.admin(method, path, {}, customer)).status, `${method} ${path}`).toBe(403);
    }
  });
});

describe("admin catalog: vendors and products", () => {
  it("creates a vendor (201) and refuses its slug a second time (409 slug-taken)", async () => {
    const res = await fx.admin("POST", "/v1/admin/catalog/vendors", {
      name: "Acme",
      slug: "acme-one",
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ id: expect.any(String), name: "Acme", slug: "acme-one" });
    const again = await fx.admin("POST", "/v1/admin/catalog/vendors", {
      name: "Other",
      slug: "acme-one",
    });
    expect(again.status).toBe(409);
    expect((await problemOf(again)).type).toMatch(/\/slug-taken$/);
  });

  it("refuses an invalid product with 400 and one error per field", async () => {
    const res = await fx.admin("POST", "/v1/admin/catalog/products", {
      vendorId: "nope",
      slug: "Not A Slug",
      title: "",
      variants: [{ sku: "A-1", priceMinor: -1, currency: "eur", stock: 1.5 }],
    });
    expect(res.status).toBe(400);
    const problem = await problemOf(res);
    expect(problem.type).toMatch(/\/validation-failed$/);
    expect(problem.errors?.map((e) => e.path).sort()).toEqual(
      [
        "slug",
        "title",
        "variants.0.currency",
        "variants.0.priceMinor",
        "variants.0.stock",
        "vendorId",
      ].sort(),
    );
  });

  it("refuses a product whose variants repeat a sku (400) or have none (400)", async () => {
    const vendorId = uuidv7();
    const repeated = await fx.admin("POST", "/v1/admin/catalog/products", {
      vendorId,
      slug: "twice",
      title: "Twice",
      variants: [
        { sku: "DUP", priceMinor: 1, currency: "EUR", stock: 1 },
        { sku: "DUP", priceMinor: 1, currency: "EUR", stock: 1 },
      ],
    });
    expect(repeated.status).toBe(400);
    expect((await problemOf(repeated)).errors).toEqual([
      { path: "variants.1.sku", message: "sku repeated" },
    ]);
    const none = await fx.admin("POST", "/v1/admin/catalog/products", {
      vendorId,
      slug: "none",
      title: "None",
      variants: [],
    });
    expect(none.status).toBe(400);
  });

  it("creates a product with variant ids and initial stock, each stock written to the ledger", async () => {
    const vendor = await bodyOf<Vendor>(
      fx.admin("POST", "/v1/admin/catalog/vendors", { name: "V", slug: "v-create" }),
    );
    const res = await fx.admin("POST", "/v1/admin/catalog/products", {
      vendorId: vendor.id,
      slug: "blue-mug",
      title: "Blue mug",
      variants: [
        { sku: "MUG-S", title: "Small", priceMinor: 900, currency: "EUR", stock: 4 },
        { sku: "MUG-L", priceMinor: 1200, currency: "EUR", stock: 0 },
      ],
    });
    expect(res.status).toBe(201);
    const product = await bodyOf<AdminProduct>(res);
    expect(product).toMatchObject({
      vendorId: vendor.id,
      slug: "blue-mug",
      title: "Blue mug",
      active: true,
      archivedAt: null,
    });
    expect(product.variants).toEqual([
      expect.objectContaining({
        sku: "MUG-S",
        title: "Small",
        priceMinor: 900,
        stock: { onHand: 4, reserved: 0, committed: 0, availableQty: 4 },
      }),
      expect.objectContaining({
        sku: "MUG-L",
        title: null,
        priceMinor: 1200,
        stock: { onHand: 0, reserved: 0, committed: 0, availableQty: 0 },
      }),
    ]);
    const ledger = await fx.sql`select variant_id, kind, on_hand_delta from stock_movements
                                where variant_id = any(${product.variants.map((v) => v.id)}::uuid[])`;
    expect(ledger).toHaveLength(2);
    expect(ledger.every((m) => m.kind === "adjust")).toBe(true);
    expect(await ledgerMismatches(fx)).toEqual([]);
  });

  it("refuses a taken product slug or sku with 409 and an unknown vendor with 422", async () => {
    const seeded = await seedProduct(fx);
    const base = {
      vendorId: seeded.vendorId,
      title: "T",
      variants: [{ sku: "FRESH-1", priceMinor: 1, currency: "EUR", stock: 1 }],
    };
    const slugTaken = await fx.admin("POST", "/v1/admin/catalog/products", {
      ...base,
      slug: seeded.slug,
    });
    expect(slugTaken.status).toBe(409);
    expect((await problemOf(slugTaken)).type).toMatch(/\/slug-taken$/);

    const skuTaken = await fx.admin("POST", "/v1/admin/catalog/products", {
      ...base,
      slug: "fresh-slug",
      variants: [{ sku: seeded.variants[0]?.sku, priceMinor: 1, currency: "EUR", stock: 1 }],
    });
    expect(skuTaken.status).toBe(409);
    expect((await problemOf(skuTaken)).type).toMatch(/\/sku-taken$/);
    expect((await fx.sql`select 1 from products where slug = 'fresh-slug'`).length).toBe(0);

    const unknown = await fx.admin("POST", "/v1/admin/catalog/products", {
      ...base,
      slug: "orphan",
      vendorId: uuidv7(),
    });
    expect(unknown.status).toBe(422);
    expect((await problemOf(unknown)).type).toMatch(/\/vendor-unknown$/);
  });

  it("answers 404 for unknown product and variant ids", async () => {
    expect(
      (await fx.admin("PATCH", `/v1/admin/catalog/products/${uuidv7()}`, { title: "X" })).status,
    ).toBe(404);
    expect((await fx.admin("DELETE", `/v1/admin/catalog/products/${uuidv7()}`)).status).toBe(404);
    expect(
      (await fx.admin("PATCH", `/v1/admin/catalog/variants/${uuidv7()}`, { active: false })).status,
    ).toBe(404);
    expect(
      (await fx.admin("PUT", `/v1/admin/catalog/variants/${uuidv7()}/stock`, { onHand: 1 })).status,
    ).toBe(404);
  });

  it("refuses an empty change with 400", async () => {
    const seeded = await seedProduct(fx);
    expect((await fx.admin("PATCH", `/v1/admin/catalog/products/${seeded.id}`, {})).status).toBe(
      400,
    );
    expect(
      (await fx.admin("PATCH", `/v1/admin/catalog/variants/${seeded.variants[0]?.id}`, {})).status,
    ).toBe(400);
  });

  it("changes a product's title and activity, and a variant's price and activity", async () => {
    const seeded = await seedProduct(fx);
    const product = await fx.admin("PATCH", `/v1/admin/catalog/products/${seeded.id}`, {
      title: "Green mug",
      active: false,
    });
    expect(product.status).toBe(200);
    expect(await product.json()).toMatchObject({ title: "Green mug", active: false });
    const variant = await fx.admin(
      "PATCH",
      `/v1/admin/catalog/variants/${seeded.variants[0]?.id}`,
      { priceMinor: 1500 },
    );
    expect(variant.status).toBe(200);
    expect(await variant.json()).toMatchObject({ priceMinor: 1500, active: true, sellable: false });
  });

  it("archives a product with 204, idempotently", async () => {
    const seeded = await seedProduct(fx);
    expect((await fx.admin("DELETE", `/v1/admin/catalog/products/${seeded.id}`)).status).toBe(204);
    expect((await fx.admin("DELETE", `/v1/admin/catalog/products/${seeded.id}`)).status).toBe(204);
    const [row] = await fx.sql`select archived_at from products where id = ${seeded.id}`;
    expect(row?.archived_at).not.toBeNull();
  });
});

describe("admin catalog: stock", () => {
  it("sets on hand and writes the difference to the ledger", async () => {
    const seeded = await seedProduct(fx, [{ stock: 10 }]);
    const variantId = seeded.variants[0]?.id ?? "";
    const res = await fx.admin("PUT", `/v1/admin/catalog/variants/${variantId}/stock`, {
      onHand: 7,
    });
    expect(res.status).toBe(200);
    expect((await bodyOf<AdminVariant>(res)).stock).toEqual({
      onHand: 7,
      reserved: 0,
      committed: 0,
      availableQty: 7,
    });
    const deltas =
      await fx.sql`select on_hand_delta from stock_movements where variant_id = ${variantId} order by id`;
    expect(deltas.map((d) => d.on_hand_delta)).toEqual([10, -3]);
    expect(await ledgerMismatches(fx)).toEqual([]);
  });

  it("refuses to set on hand below reserved + committed with 409 stock-below-allocated", async () => {
    const seeded = await seedProduct(fx, [{ stock: 5 }]);
    const variantId = seeded.variants[0]?.id ?? "";
    fx.consume(onCheckoutRequested({ reservationTtlSeconds: 900 }));
    await fx.publish("checkout.requested", checkoutRequested([{ variantId, qty: 3 }]));
    await waitFor(async () => (await stockLevel(fx, variantId))?.reserved === 3, {
      what: "3 units reserved",
    });

    const res = await fx.admin("PUT", `/v1/admin/catalog/variants/${variantId}/stock`, {
      onHand: 2,
    });
    expect(res.status).toBe(409);
    expect((await problemOf(res)).type).toMatch(/\/stock-below-allocated$/);
    expect(await stockLevel(fx, variantId)).toEqual({ onHand: 5, reserved: 3, committed: 0 });
    expect(
      (await fx.admin("PUT", `/v1/admin/catalog/variants/${variantId}/stock`, { onHand: 3 }))
        .status,
    ).toBe(200);
    expect(await ledgerMismatches(fx)).toEqual([]);
  });
});

describe("public product read", () => {
  it("answers by id and by slug without a token, with availability per variant", async () => {
    const seeded = await seedProduct(fx, [
      { stock: 2, title: "Small" },
      { stock: 0, title: "Large" },
    ]);
    for (const key of [seeded.id, seeded.slug]) {
      const res = await fx.app.request(`/v1/products/${key}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        id: seeded.id,
        slug: seeded.slug,
        title: "Mug",
        vendorId: seeded.vendorId,
        active: true,
        variants: [
          expect.objectContaining({
            title: "Small",
            priceMinor: 1000,
            currency: "EUR",
            active: true,
            available: true,
            availableQty: 2,
          }),
          expect.objectContaining({
            title: "Large",
            active: true,
            available: false,
            availableQty: 0,
          }),
        ],
      });
    }
  });

  it("still answers an archived or inactive product, as inactive and unavailable", async () => {
    const archived = await seedProduct(fx);
    await fx.admin("DELETE", `/v1/admin/catalog/products/${archived.id}`);
    const inactive = await seedProduct(fx);
    await fx.admin("PATCH", `/v1/admin/catalog/products/${inactive.id}`, { active: false });
    for (const id of [archived.id, inactive.id]) {
      const body = await bodyOf<PublicProduct>(fx.app.request(`/v1/products/${id}`));
      expect(body.active).toBe(false);
      expect(body.variants[0]).toMatchObject({ active: true, available: false, availableQty: 10 });
    }
  });

  it("answers 404 problem+json for an unknown product", async () => {
    const res = await fx.app.request("/v1/products/no-such-product");
    expect(res.status).toBe(404);
    expect((await problemOf(res)).type).toMatch(/\/not-found$/);
  });
});
