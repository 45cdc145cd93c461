import { metricValue, scrapeMetrics } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CheckoutFixture,
  COD_MAX_ORDER_MINOR,
  checkoutBody,
  customer,
  givenVariant,
  problemSlug,
  staff,
  startCheckoutFixture,
  unverifiedCustomer,
} from "./helpers.ts";

let fx: CheckoutFixture;
beforeAll(async () => {
  fx = await startCheckoutFixture({
    config: { RATE_LIMIT_CHECKOUT_PER_CUSTOMER: 2 },
  });
});
afterAll(() => fx.close());

const metrics = async () => {
  const text = await scrapeMetrics(fx.app);
  return (name: string, labels: Record<string, string> = {}) => metricValue(text, name, labels);
};

type Shopper = Awaited<ReturnType<typeof customer>>;

/** One item of `priceMinor` in the cart, then a checkout with a fresh key. */
async function checkoutOf(shopper: Shopper, priceMinor = 12_50) {
  const item = await givenVariant(fx, { priceMinor });
  await shopper.addLine(item.variantId, 1);
  return shopper.checkout(uuidv7(), checkoutBody());
}

describe("checkout /metrics: refusals at the door", () => {
  it("counts COD-rule refusals by slug, and nothing for a refusal that is not a COD rule", async () => {
    const unverified = await unverifiedCustomer(fx);
    const bigSpender = await customer(fx);
    const disabled = await customer(fx);
    const emptyCart = await customer(fx);
    const ops = await staff(fx, "admin");
    await ops.call("PUT", `/v1/admin/customers/${disabled.id}/cod`, {
      disabled: true,
      reason: "fraud",
    });

    expect(await problemSlug(await checkoutOf(unverified))).toBe("phone-verification-required");
    expect(await problemSlug(await checkoutOf(bigSpender, COD_MAX_ORDER_MINOR + 1))).toBe(
      "cod-limit-exceeded",
    );
    expect(await problemSlug(await checkoutOf(disabled))).toBe("cod-disabled");
    expect(await problemSlug(await emptyCart.checkout(uuidv7(), checkoutBody()))).toBe(
      "cart-empty",
    );

    const m = await metrics();
    const refused = (slug: string) => m("codflow_checkout_cod_refusals_total", { slug });
    expect(refused("phone-verification-required")).toBe(1);
    expect(refused("cod-limit-exceeded")).toBe(1);
    expect(refused("cod-disabled")).toBe(1);
    expect(refused("cart-empty")).toBeUndefined();
  });

  it("counts 429 rate-limited answers by limiter", async () => {
    const ada = await customer(fx);
    const before = (await metrics())("codflow_rate_limited_total", {
      limiter: "checkout:customer",
    });
    expect(before).toBeUndefined();

    for (let i = 0; i < 2; i++) {
      expect((await ada.checkout(uuidv7(), checkoutBody())).status).toBe(409);
    }
    const limited = await ada.checkout(uuidv7(), checkoutBody());
    expect(limited.status).toBe(429);
    expect(await problemSlug(limited)).toBe("rate-limited");

    const m = await metrics();
    expect(m("codflow_rate_limited_total", { limiter: "checkout:customer" })).toBe(1);
    expect(m("codflow_rate_limited_total", { limiter: "checkout:ip" })).toBeUndefined();
  });
});
