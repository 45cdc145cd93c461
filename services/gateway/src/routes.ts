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

/** A request the proxy forwards: to which service, and the path (with query) it asks for. */
export interface ProxiedRoute {
  upstream: UpstreamName;
  pathname: string;
  /** Pathname and query as forwarded, dot segments resolved as any URL parser would. */
  target: string;
}

/**
 * The route of a raw request target (`req.url`), or undefined for what the gateway answers
 * itself (its own routes, 404). Only origin-form targets (`/…`) are proxied.
 */
export function routeRequest(requestTarget: string | undefined): ProxiedRoute | undefined {
  if (!requestTarget?.startsWith("/")) return undefined;
  const { pathname, search } = new URL(`http://gateway${requestTarget}`);
  const upstream = upstreamForPath(pathname);
  return upstream ? { upstream, pathname, target: pathname + search } : undefined;
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
