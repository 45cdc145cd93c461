import { randomUUID } from "node:crypto";
import { signToken } from "@codflow/shared/testing";

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

export const checkoutBody = {
  paymentMethod: "cod",
  phone: "+15555550100",
  shippingAddress: {
    name: "Ada Buyer",
    line1: "1 Main St",
    city: "Springfield",
    postalCode: "12345",
    country: "US",
  },
};
