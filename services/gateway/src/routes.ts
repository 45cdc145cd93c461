export type UpstreamName = "checkout" | "inventory" | "orders";

/** Which service answers each public path prefix (API.md). Nothing else is routed. */
export const ROUTE_TABLE: ReadonlyArray<{ prefix: string; upstream: UpstreamName }> = [
  { prefix: "/v1/cart", upstream: "checkout" },
  { prefix: "/v1/checkouts", upstream: "checkout" },
  { prefix: "/v1/me", upstream: "checkout" },
  { prefix: "/v1/admin/customers", upstream: "checkout" },
  { prefix: "/v1/admin/catalog", upstream: "inventory" },
  { prefix: "/v1/products", upstream: "inventory" },
  { prefix: "/v1/orders", upstream: "orders" },
  { prefix: "/v1/admin/orders", upstream: "orders" },
];

/** `/v1/cart` and `/v1/cart/lines` match `/v1/cart`; `/v1/cartoon` does not. */
export function upstreamForPath(path: string): UpstreamName | undefined {
  const route = ROUTE_TABLE.find(({ prefix }) => path === prefix || path.startsWith(`${prefix}/`));
  return route?.upstream;
}

/** Round-robin over the replicas of one upstream. */
export class UpstreamPool {
  #next = 0;

  constructor(
    readonly name: UpstreamName,
    readonly urls: readonly string[],
  ) {
    if (urls.length === 0) throw new Error(`upstream ${name} has no URL`);
  }

  /** Every replica once, starting with the next one in turn. */
  rotation(): string[] {
    const start = this.#next;
    this.#next = (this.#next + 1) % this.urls.length;
    return this.urls.map((_, i) => this.urls[(start + i) % this.urls.length] as string);
  }
}

export type UpstreamPools = Record<UpstreamName, UpstreamPool>;

export function createUpstreamPools(urls: Record<UpstreamName, readonly string[]>): UpstreamPools {
  return {
    checkout: new UpstreamPool("checkout", urls.checkout),
    inventory: new UpstreamPool("inventory", urls.inventory),
    orders: new UpstreamPool("orders", urls.orders),
  };
}
