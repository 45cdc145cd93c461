import { signToken } from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CartLineJson,
  type CheckoutFixture,
  customer,
  givenVariant,
  json,
  type ProblemJson,
  startCheckoutFixture,
} from "./helpers.ts";

let fx: CheckoutFixture;
beforeAll(async () => {
  fx = await startCheckoutFixture();
});
afterAll(() => fx.close());

describe("cart routes", () => {
  it("refuses a request without a token (401) and a token of another role (403)", async () => {
    expect((await fx.app.request("/v1/cart")).status).toBe(401);
    const admin = await signToken({ sub: "ops-1", role: "admin" });
    const res = await fx.app.request("/v1/cart", { headers: { authorization: `Bearer ${admin}` } });
    expect(res.status).toBe(403);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
  });

  it("shows an empty cart with no lines, a zero total and no currency", async () => {
    const ada = await customer(fx);
    const res = await ada.call("GET", "/v1/cart");
    expect(res.status).toBe(200);
    expect(await json<ProblemJson>(res)).toEqual({ lines: [], totalMinor: 0, currency: null });
  });

  it("adds a line (201), then increments it when the same variant is added again", async () => {
    const ada = await customer(fx);
    const mug = await givenVariant(fx, { priceMinor: 12_50 });
    const first = await ada.addLine(mug.variantId, 2);
    expect(first.status).toBe(201);
    const line = await json<CartLineJson>(first);
    expect(line).toMatchObject({
      variantId: mug.variantId,
      qty: 2,
      unitPriceMinor: 12_50,
      currency: "EUR",
    });

    const again = await ada.addLine(mug.variantId, 3);
    expect(again.status).toBe(201);
    expect(await again.json()).toMatchObject({ id: line.id, qty: 5 });

    const cart = await ada.cart();
    expect(cart).toEqual({
      lines: [
        {
          id: line.id,
          variantId: mug.variantId,
          qty: 5,
          unitPriceMinor: 12_50,
          currency: "EUR",
          sellable: true,
        },
      ],
      totalMinor: 62_50,
      currency: "EUR",
    });
  });

  it("prices the cart from the replica as it is now", async () => {
    const ada = await customer(fx);
    const mug = await givenVariant(fx, { priceMinor: 10_00 });
    await ada.addLine(mug.variantId, 1);
    await givenVariant(fx, { ...mug, priceMinor: 11_00, revision: 2 });
    const cart = await ada.cart();
    expect(cart).toMatchObject({ totalMinor: 11_00, lines: [{ unitPriceMinor: 11_00 }] });
  });

  it("refuses an unknown variant and one that is not sellable with 422 variant-unavailable", async () => {
    const ada = await customer(fx);
    const archived = await givenVariant(fx, { sellable: false });
    for (const variantId of ["0190a0b0-0000-7000-8000-000000000000", archived.variantId]) {
      const res = await ada.addLine(variantId, 1);
      expect(res.status).toBe(422);
      expect((await json<ProblemJson>(res)).type).toMatch(/\/variant-unavailable$/);
    }
    expect((await ada.cart()).lines).toEqual([]);
  });

  it("refuses a quantity outside 1..100 with 400 and the field error", async () => {
    const ada = await customer(fx);
    const mug = await givenVariant(fx);
    for (const qty of [0, 101, 1.5]) {
      const res = await ada.addLine(mug.variantId, qty);
      expect(res.status).toBe(400);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect((await json<ProblemJson>(res)).errors).toEqual([
        expect.objectContaining({ path: "qty" }),
      ]);
    }
  });

  it("refuses an increment that would take a line past 100 and keeps the line as it was", async () => {
    const ada = await customer(fx);
    const mug = await givenVariant(fx);
    await ada.addLine(mug.variantId, 60);
    const res = await ada.addLine(mug.variantId, 41);
    expect(res.status).toBe(400);
    expect((await json<ProblemJson>(res)).errors).toEqual([
      expect.objectContaining({ path: "qty" }),
    ]);
    expect((await ada.cart()).lines[0]?.qty).toBe(60);
  });

  it("sets a line's quantity and deletes a line", async () => {
    const ada = await customer(fx);
    const mug = await givenVariant(fx);
    const line = await json<CartLineJson>(await ada.addLine(mug.variantId, 1));

    const patched = await ada.call("PATCH", `/v1/cart/lines/${line.id}`, { qty: 7 });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ id: line.id, qty: 7 });
    expect((await ada.call("PATCH", `/v1/cart/lines/${line.id}`, { qty: 101 })).status).toBe(400);

    const deleted = await ada.call("DELETE", `/v1/cart/lines/${line.id}`);
    expect(deleted.status).toBe(204);
    expect((await ada.cart()).lines).toEqual([]);
    expect((await ada.call("DELETE", `/v1/cart/lines/${line.id}`)).status).toBe(404);
  });

  it("answers 404 for another customer's line and leaves it untouched", async () => {
    const ada = await customer(fx);
    const bob = await customer(fx);
    const mug = await givenVariant(fx);
    const line = await json<CartLineJson>(await ada.addLine(mug.variantId, 2));

    const patched = await bob.call("PATCH", `/v1/cart/lines/${line.id}`, { qty: 9 });
    expect(patched.status).toBe(404);
    expect((await json<ProblemJson>(patched)).type).toMatch(/\/not-found$/);
    expect((await bob.call("DELETE", `/v1/cart/lines/${line.id}`)).status).toBe(404);
    expect((await ada.cart()).lines[0]?.qty).toBe(2);
  });
});
