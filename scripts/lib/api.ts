import { randomInt, randomUUID } from "node:crypto";
import { signToken } from "@codflow/shared/testing";
import type { SmsInbox } from "./sms-sink.ts";

/** Talks to the gateway as the storefront does: bearer token, JSON, problem+json errors. */
export function apiClient(baseUrl: string) {
  const call = async (
    method: string,
    path: string,
    {
      token,
      body,
      headers = {},
    }: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    // biome-ignore lint/suspicious/noExplicitAny: test responses are asserted field by field
    const json: any =
      text && res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text;
    return { status: res.status, headers: res.headers, body: json };
  };
  return {
    get: (path: string, opts?: Parameters<typeof call>[2]) => call("GET", path, opts),
    post: (path: string, opts?: Parameters<typeof call>[2]) => call("POST", path, opts),
    put: (path: string, opts?: Parameters<typeof call>[2]) => call("PUT", path, opts),
    patch: (path: string, opts?: Parameters<typeof call>[2]) => call("PATCH", path, opts),
    delete: (path: string, opts?: Parameters<typeof call>[2]) => call("DELETE", path, opts),
  };
}

export type ApiClient = ReturnType<typeof apiClient>;

export const adminToken = () =>
  signToken({ sub: "admin-1", role: "admin", email: "ops@codflow.test" });
export const customer = async (label = "customer") => {
  const id = `${label}-${randomUUID()}`;
  return {
    id,
    email: `${id}@codflow.test`,
    token: await signToken({ sub: id, role: "customer", email: `${id}@codflow.test` }),
  };
};

/** A fresh E.164 number in the fictional +1 555 range, unique enough for any test run. */
export const newPhone = () => `+1555${String(randomInt(0, 10 ** 11)).padStart(11, "0")}`;

/**
 * Verifies `phone` for the customer of `token` through the real API: asks for a code, reads it
 * from the SMS sink the notifier texts, confirms it. Throws, naming the step, when any answer is
 * not the one API.md promises.
 */
export async function verifyPhone(api: ApiClient, sms: SmsInbox, token: string, phone: string) {
  const requested = await api.post("/v1/me/phone/verification", { token, body: { phone } });
  if (requested.status !== 202) {
    throw new Error(
      `POST /v1/me/phone/verification answered ${requested.status}: ${JSON.stringify(requested.body)}`,
    );
  }
  const code = await sms.waitForCode(phone);
  const confirmed = await api.post("/v1/me/phone/verification/confirm", { token, body: { code } });
  if (confirmed.status !== 200 || confirmed.body?.phoneVerified !== true) {
    throw new Error(
      `POST /v1/me/phone/verification/confirm answered ${confirmed.status}: ${JSON.stringify(confirmed.body)}`,
    );
  }
}

/**
 * A new customer whose phone is verified, so COD checkouts with `checkoutBodyFor(phone)` pass
 * the first-order rule.
 *
 * @example const buyer = await verifiedCustomer(api, stack.sms, "buyer");
 */
export async function verifiedCustomer(api: ApiClient, sms: SmsInbox, label = "customer") {
  const who = await customer(label);
  const phone = newPhone();
  await verifyPhone(api, sms, who.token, phone);
  return { ...who, phone };
}

export type VerifiedCustomer = Awaited<ReturnType<typeof verifiedCustomer>>;

/** A COD checkout body shipping to the customer whose verified phone is `phone`. */
export const checkoutBodyFor = (phone: string) => ({
  paymentMethod: "cod",
  phone,
  shippingAddress: {
    name: "Ada Buyer",
    line1: "1 Main St",
    city: "Springfield",
    postalCode: "12345",
    country: "US",
  },
});
