import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CheckoutFixture,
  type CheckoutJson,
  COD_MAX_ORDER_MINOR,
  checkoutBody,
  customer,
  customerWithCart,
  givenVariant,
  json,
  outboxEvents,
  type ProblemJson,
  startCheckoutFixture,
} from "./helpers.ts";

let fx: CheckoutFixture;
beforeAll(async () => {
  fx = await startCheckoutFixture();
});
afterAll(() => fx.close());

const countCheckouts = async (customerId: string) => {
  const [row] = await fx.sql<{ n: number }[]>`
    select count(*)::int as n from checkouts where customer_id = ${customerId}`;
  return row?.n;
};

const problemSlug = async (res: Response) => (await json<ProblemJson>(res)).type.split("/").pop();

describe("POST /v1/checkouts", () => {
  it("accepts the cart as a processing checkout and appends checkout.requested with the shown prices", async () => {
    const { shopper: ada, mug, spoon } = await customerWithCart(fx, "ada@example.com");

    const res = await ada.checkout("key-1");

    expect(res.status).toBe(202);
    const accepted = await json<CheckoutJson>(res);
    expect(accepted).toEqual({
      id: expect.any(String),
      status: "processing",
      statusUrl: `/v1/checkouts/${accepted.id}`,
    });
    expect(res.headers.get("location")).toBe(`/v1/checkouts/${accepted.id}`);
    const [requested, ...more] = await outboxEvents(fx, "checkout.requested", accepted.id);
    expect(more).toEqual([]);
    expect(requested?.causationId).toBeNull();
    expect(requested?.data).toEqual({
      checkoutId: accepted.id,
      customerId: ada.id,
      customerEmail: "ada@example.com",
      lines: [
        { variantId: mug.variantId, qty: 2, unitPriceMinor: 12_50, currency: "EUR" },
        { variantId: spoon.variantId, qty: 1, unitPriceMinor: 5_00, currency: "EUR" },
      ],
      totalMinor: 30_00,
      currency: "EUR",
      phone: checkoutBody().phone,
      shippingAddress: checkoutBody().shippingAddress,
    });
    const [row] = await fx.sql`
      select customer_email, status from checkouts where id = ${accepted.id}`;
    expect(row).toEqual({ customer_email: "ada@example.com", status: "processing" });
  });

  it("answers a replay of the same key and body with the same checkout, and appends nothing more", async () => {
    const { shopper: ada } = await customerWithCart(fx);
    const first = await json<CheckoutJson>(await ada.checkout("key-1"));

    const { paymentMethod, phone, shippingAddress } = checkoutBody();
    const replay = await ada.checkout("key-1", { shippingAddress, phone, paymentMethod });

    expect(replay.status).toBe(202);
    expect((await json<CheckoutJson>(replay)).id).toBe(first.id);
    expect(replay.headers.get("location")).toBe(`/v1/checkouts/${first.id}`);
    expect(await countCheckouts(ada.id)).toBe(1);
    expect(await outboxEvents(fx, "checkout.requested", first.id)).toHaveLength(1);
  });

  it("refuses the same key with a different body with 409 idempotency-key-reused", async () => {
    const { shopper: ada } = await customerWithCart(fx);
    await ada.checkout("key-1");

    const res = await ada.checkout("key-1", checkoutBody({ phone: "+4915199999999" }));

    expect(res.status).toBe(409);
    expect(await problemSlug(res)).toBe("idempotency-key-reused");
    expect(await countCheckouts(ada.id)).toBe(1);
  });

  it("makes exactly one checkout of 10 concurrent requests with the same key", async () => {
    const { shopper: ada } = await customerWithCart(fx);

    const responses = await Promise.all(Array.from({ length: 10 }, () => ada.checkout("same-key")));

    const [checkout] = await fx.sql<{ id: string }[]>`
      select id from checkouts where customer_id = ${ada.id}`;
    expect(await countCheckouts(ada.id)).toBe(1);
    expect(await outboxEvents(fx, "checkout.requested", checkout?.id ?? "")).toHaveLength(1);
    for (const res of responses) {
      if (res.status === 202) expect((await json<CheckoutJson>(res)).id).toBe(checkout?.id);
      else {
        expect(res.status).toBe(409);
        expect(await problemSlug(res)).toBe("request-in-progress");
      }
    }
  });

  it("requires an Idempotency-Key of 1 to 255 characters (400)", async () => {
    const { shopper: ada } = await customerWithCart(fx);
    const keyHeaders: Record<string, string>[] = [{}, { "idempotency-key": "k".repeat(256) }];
    for (const headers of keyHeaders) {
      const res = await ada.call("POST", "/v1/checkouts", checkoutBody(), headers);
      expect(res.status).toBe(400);
      const problem = await json<ProblemJson>(res);
      expect(problem.errors).toEqual([expect.objectContaining({ path: "idempotency-key" })]);
    }
    expect(await countCheckouts(ada.id)).toBe(0);
  });

  it("refuses an empty cart with 409 cart-empty, and leaves the key free for a later try", async () => {
    const ada = await customer(fx);
    const never = await ada.checkout("key-1");
    expect(never.status).toBe(409);
    expect(await problemSlug(never)).toBe("cart-empty");

    const mug = await givenVariant(fx);
    const line = await json<{ id: string }>(await ada.addLine(mug.variantId, 1));
    await ada.call("DELETE", `/v1/cart/lines/${line.id}`);
    const emptied = await ada.checkout("key-1");
    expect(emptied.status).toBe(409);
    expect(await problemSlug(emptied)).toBe("cart-empty");

    await ada.addLine(mug.variantId, 1);
    expect((await ada.checkout("key-1")).status).toBe(202);
  });

  it("refuses a second checkout of the cart while one is processing with 409 checkout-in-progress", async () => {
    const { shopper: ada } = await customerWithCart(fx);
    expect((await ada.checkout("key-1")).status).toBe(202);

    const second = await ada.checkout("key-2");

    expect(second.status).toBe(409);
    expect(await problemSlug(second)).toBe("checkout-in-progress");
    expect(await countCheckouts(ada.id)).toBe(1);
  });

  it("refuses an invalid body with 400 and an error per field", async () => {
    const { shopper: ada } = await customerWithCart(fx);
    const { city: _, ...noCity } = checkoutBody().shippingAddress;

    const res = await ada.checkout(
      "key-1",
      checkoutBody({ paymentMethod: "card", phone: "0151 123", shippingAddress: noCity }),
    );

    expect(res.status).toBe(400);
    const problem = await json<ProblemJson>(res);
    expect(problem.type).toMatch(/\/validation-failed$/);
    expect(problem.errors?.map((e) => e.path).sort()).toEqual([
      "paymentMethod",
      "phone",
      "shippingAddress.city",
    ]);
  });

  it("refuses a cart holding a variant no longer sellable with 422 variant-unavailable", async () => {
    const { shopper: ada, spoon } = await customerWithCart(fx);
    await givenVariant(fx, { ...spoon, sellable: false, revision: 2 });

    const res = await ada.checkout("key-1");

    expect(res.status).toBe(422);
    const problem = await json<ProblemJson>(res);
    expect(problem.type).toMatch(/\/variant-unavailable$/);
    expect(problem.detail).toContain(spoon.variantId);
  });

  it("refuses a cart in two currencies with 422 currency-mismatch", async () => {
    const { shopper: ada } = await customerWithCart(fx);
    const dollarMug = await givenVariant(fx, { currency: "USD" });
    await ada.addLine(dollarMug.variantId, 1);

    const res = await ada.checkout("key-1");

    expect(res.status).toBe(422);
    expect(await problemSlug(res)).toBe("currency-mismatch");
  });

  it("refuses a total above COD_MAX_ORDER_MINOR with 422 cod-limit-exceeded", async () => {
    const ada = await customer(fx);
    const tv = await givenVariant(fx, { priceMinor: COD_MAX_ORDER_MINOR / 2 + 1 });
    await ada.addLine(tv.variantId, 2);

    const res = await ada.checkout("key-1");

    expect(res.status).toBe(422);
    expect(await problemSlug(res)).toBe("cod-limit-exceeded");
    expect(await countCheckouts(ada.id)).toBe(0);
  });
});

describe("GET /v1/checkouts/:id", () => {
  it("shows the customer their own checkout and answers 404 to anyone else", async () => {
    const { shopper: ada } = await customerWithCart(fx);
    const bob = await customer(fx);
    const { id } = await json<CheckoutJson>(await ada.checkout("key-1"));

    const own = await ada.call("GET", `/v1/checkouts/${id}`);
    expect(own.status).toBe(200);
    expect(await json<CheckoutJson>(own)).toEqual({
      id,
      status: "processing",
      totalMinor: 30_00,
      currency: "EUR",
      createdAt: expect.stringMatching(/Z$/),
      updatedAt: expect.stringMatching(/Z$/),
    });
    expect((await bob.call("GET", `/v1/checkouts/${id}`)).status).toBe(404);
    expect((await bob.call("GET", `/v1/checkouts/${id}/events`)).status).toBe(404);
  });
});

describe("the OpenAPI document", () => {
  it("describes every cart, checkout, phone and COD profile route", async () => {
    const res = await fx.app.request("/openapi.json");

    expect(res.status).toBe(200);
    const doc = await json<{ paths: Record<string, unknown> }>(res);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/v1/cart",
        "/v1/cart/lines",
        "/v1/cart/lines/{id}",
        "/v1/checkouts",
        "/v1/checkouts/{id}",
        "/v1/checkouts/{id}/events",
        "/v1/me/phone/verification",
        "/v1/me/phone/verification/confirm",
        "/v1/me/cod",
        "/v1/admin/customers/{userId}/cod",
      ]),
    );
  });
});
