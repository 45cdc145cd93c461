import { waitFor } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CheckoutFixture,
  type CheckoutJson,
  checkoutBody,
  customer,
  givenVariant,
  inventoryCommittedFor,
  json,
  lifecycleData,
  problemSlug,
  staff,
  startCheckoutFixture,
  unverifiedCustomer,
} from "./helpers.ts";

let fx: CheckoutFixture;
beforeAll(async () => {
  fx = await startCheckoutFixture({ consumers: true });
});
afterAll(() => fx.close());

type Shopper = Awaited<ReturnType<typeof customer>>;

const statusOf = async (shopper: Shopper, id: string) =>
  (await json<CheckoutJson>(await shopper.call("GET", `/v1/checkouts/${id}`))).status;

const activeSlots = async (customerId: string) => {
  const [row] = await fx.sql<{ n: number }[]>`
    select count(*)::int as n from cod_active_orders where customer_id = ${customerId}`;
  return row?.n;
};

/** Puts one mug in the cart and checks out with a fresh key. */
async function placeCheckout(shopper: Shopper, body = checkoutBody()) {
  const mug = await givenVariant(fx);
  await shopper.addLine(mug.variantId, 1);
  const res = await shopper.checkout(uuidv7(), body);
  return { res, mug };
}

/** A COD order the customer has open: accepted, then confirmed through the real consumer. */
async function openOrder(shopper: Shopper) {
  const { res, mug } = await placeCheckout(shopper);
  expect(res.status).toBe(202);
  const { id } = await json<CheckoutJson>(res);
  const committed = inventoryCommittedFor(id, shopper.id, [{ variant: mug, qty: 1 }]);
  await fx.publish("inventory.committed", committed, { correlationId: id });
  await waitFor(async () => (await statusOf(shopper, id)) === "confirmed", { what: "confirmed" });
  return { checkoutId: id, orderId: committed.orderId };
}

describe("the first COD order", () => {
  it("needs a verified phone: 403 phone-verification-required, nothing accepted", async () => {
    const ada = await unverifiedCustomer(fx);

    const { res } = await placeCheckout(ada);

    expect(res.status).toBe(403);
    expect(await problemSlug(res)).toBe("phone-verification-required");
    expect(await activeSlots(ada.id)).toBe(0);
  });

  it("must go to the verified phone", async () => {
    const ada = await customer(fx);

    const { res } = await placeCheckout(ada, checkoutBody({ phone: "+4915199999999" }));

    expect(res.status).toBe(403);
    expect(await problemSlug(res)).toBe("phone-verification-required");
  });

  it("is accepted once the phone was verified through the OTP routes", async () => {
    const ada = await unverifiedCustomer(fx);
    const sent = await ada.call("POST", "/v1/me/phone/verification", {
      phone: checkoutBody().phone,
    });
    expect(sent.status).toBe(202);
    const [event] = await fx.sql<{ envelope: { data: { code: string } } }[]>`
      select envelope from outbox
      where type = 'checkout.phone_verification_requested'
        and envelope->'data'->>'customerId' = ${ada.id}`;
    const confirm = await ada.call("POST", "/v1/me/phone/verification/confirm", {
      code: event?.envelope.data.code,
    });
    expect(confirm.status).toBe(200);

    const { res } = await placeCheckout(ada);

    expect(res.status).toBe(202);
  });

  it("lets a customer with a confirmed COD order use another, unverified phone", async () => {
    const ada = await customer(fx);
    await openOrder(ada);

    const { res } = await placeCheckout(ada, checkoutBody({ phone: "+4915199999999" }));

    expect(res.status).toBe(202);
  });
});

describe("COD disabled for the account", () => {
  it("refuses checkouts with 403 cod-disabled until an admin enables COD again", async () => {
    const ada = await customer(fx);
    const ops = await staff(fx, "admin");
    await ops.call("PUT", `/v1/admin/customers/${ada.id}/cod`, { disabled: true, reason: "fraud" });

    const { res } = await placeCheckout(ada);
    expect(res.status).toBe(403);
    const problem = await json<{ type: string; detail: string }>(res);
    expect(problem.type).toMatch(/\/cod-disabled$/);
    expect(problem.detail).toBe("fraud");

    await ops.call("PUT", `/v1/admin/customers/${ada.id}/cod`, { disabled: false, reason: "ok" });
    expect((await ada.checkout(uuidv7())).status).toBe(202);
  });
});

describe("the active COD order limit (COD_MAX_ACTIVE_ORDERS = 3)", () => {
  it("never accepts a 4th of 20 concurrent checkouts, and answers the rest 429 cod-active-limit", async () => {
    const ada = await customer(fx);
    await openOrder(ada);
    await openOrder(ada);
    await givenVariant(fx).then((mug) => ada.addLine(mug.variantId, 1));

    // The profile lock serialises them: one takes the 3rd slot, every other then counts 3, or
    // (read after that one committed) finds the cart in checkout.
    const third = await Promise.all(Array.from({ length: 20 }, () => ada.checkout(uuidv7())));
    const refused = third.filter((r) => r.status !== 202);
    expect(refused).toHaveLength(19);
    for (const res of refused) {
      expect(`${res.status} ${await problemSlug(res)}`).toMatch(
        /^(429 cod-active-limit|409 checkout-in-progress)$/,
      );
    }
    expect(await activeSlots(ada.id)).toBe(3);

    // With the 3rd confirmed (the cart free again), still no 4th, however many try at once.
    const { id: thirdId } = await json<CheckoutJson>(
      third.find((r) => r.status === 202) as Response,
    );
    const mug = await givenVariant(fx);
    await fx.publish(
      "inventory.committed",
      inventoryCommittedFor(thirdId, ada.id, [{ variant: mug, qty: 1 }]),
      {
        correlationId: thirdId,
      },
    );
    await waitFor(async () => (await statusOf(ada, thirdId)) === "confirmed", {
      what: "3rd confirmed",
    });
    await ada.addLine(mug.variantId, 1);
    const fourth = await Promise.all(Array.from({ length: 20 }, () => ada.checkout(uuidv7())));
    expect(new Set(fourth.map((r) => r.status))).toEqual(new Set([429]));
    const [accepted] = await fx.sql<{ n: number }[]>`
      select count(*)::int as n from checkouts where customer_id = ${ada.id}`;
    expect(accepted?.n).toBe(3);
  });

  it.each([
    [
      "orders.delivered",
      { cashCollectedMinor: 12_50, totalMinor: 12_50, currency: "EUR", cashMismatch: false },
    ],
    ["orders.cancelled", { reason: "customer asked" }],
    ["orders.returned", {}],
  ] as const)("frees a slot on %s", async (type, extra) => {
    const ada = await customer(fx);
    const orders = [await openOrder(ada), await openOrder(ada), await openOrder(ada)];
    const { res: refused } = await placeCheckout(ada);
    expect(refused.status).toBe(429);
    expect(await problemSlug(refused)).toBe("cod-active-limit");

    const first = orders[0] as { checkoutId: string; orderId: string };
    const data = {
      ...lifecycleData(first.checkoutId, ada.id, { orderId: first.orderId }),
      ...extra,
    };
    const event = await fx.publish(type, data as never);
    const consumer = `checkout.on-${type.replace(".", "-")}`;
    await waitFor(() => fx.handled(consumer, event.id), {
      what: `${type} handled`,
    });

    expect(await activeSlots(ada.id)).toBe(2);
    expect((await ada.checkout(uuidv7())).status).toBe(202);
  });

  it("frees the slot of a checkout that fails, and counts a processing checkout as active", async () => {
    const ada = await customer(fx);
    await openOrder(ada);
    await openOrder(ada);
    const { res } = await placeCheckout(ada);
    const { id } = await json<CheckoutJson>(res);
    expect(await activeSlots(ada.id)).toBe(3);

    await fx.publish(
      "inventory.reservation_expired",
      { checkoutId: id, reservationId: uuidv7(), expiredAt: new Date().toISOString() },
      { correlationId: id },
    );
    await waitFor(async () => (await statusOf(ada, id)) === "failed", { what: "failed" });

    expect(await activeSlots(ada.id)).toBe(2);
  });

  it("answers a replay of an accepted request the same, even with the limit reached since", async () => {
    const ada = await customer(fx);
    await openOrder(ada);
    await openOrder(ada);
    const mug = await givenVariant(fx);
    await ada.addLine(mug.variantId, 1);
    const first = await json<CheckoutJson>(await ada.checkout("replayed-key"));

    const replay = await ada.checkout("replayed-key");

    expect(replay.status).toBe(202);
    expect((await json<CheckoutJson>(replay)).id).toBe(first.id);
  });
});
