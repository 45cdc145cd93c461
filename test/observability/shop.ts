import { randomUUID } from "node:crypto";
import { waitFor } from "@codflow/shared/testing";
import {
  type ApiClient,
  adminToken,
  apiClient,
  checkoutBodyFor,
  verifiedCustomer,
} from "../../scripts/lib/api.ts";
import type { Stack } from "../support/stack.ts";

const suffix = () => randomUUID().slice(0, 8);

/** A storefront for observability tests: seeds a one-variant product, fills carts, checks out. */
export async function shop(
  { gatewayUrl, sms }: Pick<Stack, "gatewayUrl" | "sms">,
  { stock = 1000 }: { stock?: number } = {},
) {
  const api: ApiClient = apiClient(gatewayUrl);
  const admin = await adminToken();
  const vendor = await api.post("/v1/admin/catalog/vendors", {
    token: admin,
    body: { name: "Observer", slug: `observer-${suffix()}` },
  });
  if (vendor.status !== 201)
    throw new Error(`vendor: ${vendor.status} ${JSON.stringify(vendor.body)}`);
  const product = await api.post("/v1/admin/catalog/products", {
    token: admin,
    body: {
      vendorId: vendor.body.id,
      slug: `watched-${suffix()}`,
      title: "Watched product",
      variants: [
        { sku: `watched-${suffix()}`, title: "one size", priceMinor: 1250, stock, currency: "EUR" },
      ],
    },
  });
  if (product.status !== 201)
    throw new Error(`product: ${product.status} ${JSON.stringify(product.body)}`);
  const variantId = product.body.variants[0].id as string;

  /**
   * A new customer with a verified phone and the variant in the cart (once checkout's catalog
   * replica knows it).
   */
  const buyer = async () => {
    const who = await verifiedCustomer(api, sms, "observed");
    await waitFor(
      async () => {
        const res = await api.post("/v1/cart/lines", {
          token: who.token,
          body: { variantId, qty: 1 },
        });
        if (res.status === 422) return false;
        if (res.status !== 201) throw new Error(`cart: ${res.status} ${JSON.stringify(res.body)}`);
        return true;
      },
      { what: `variant ${variantId} in the cart`, timeoutMs: 20_000 },
    );
    return who;
  };

  /** Places a checkout for a new buyer; `waitSeconds` > 0 asks the API to wait for the outcome. */
  const checkout = async ({ waitSeconds = 0 }: { waitSeconds?: number } = {}) => {
    const who = await buyer();
    const res = await api.post("/v1/checkouts", {
      token: who.token,
      body: checkoutBodyFor(who.phone),
      headers: {
        "idempotency-key": randomUUID(),
        ...(waitSeconds > 0 ? { prefer: `wait=${waitSeconds}` } : {}),
      },
    });
    if (res.status !== 200 && res.status !== 202)
      throw new Error(`checkout: ${res.status} ${JSON.stringify(res.body)}`);
    return { id: res.body.id as string, status: res.body.status as string, buyer: who };
  };

  return { api, variantId, buyer, checkout };
}
