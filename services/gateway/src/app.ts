import {
  drainUnreadBody,
  HttpProblem,
  httpTracing,
  type Logger,
  problemResponse,
} from "@codflow/shared";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { GatewayConfig } from "./config.ts";
import { docsRoutes } from "./docs.ts";
import { createOpenApiAggregator } from "./openapi.ts";
import { proxyToServices } from "./proxy.ts";
import { createUpstreamPools, upstreamForPath } from "./routes.ts";

export interface GatewayDeps {
  config: GatewayConfig;
  logger: Logger;
}

/** The gateway's routes: its own health, the merged OpenAPI document and docs, then the proxy. */
export function createGatewayApp({ config, logger }: GatewayDeps): Hono {
  const pools = createUpstreamPools({
    checkout: config.CHECKOUT_URL,
    inventory: config.INVENTORY_URL,
    orders: config.ORDERS_URL,
  });
  const openapi = createOpenApiAggregator({ pools, logger });
  const app = new Hono();
  app.use("*", drainUnreadBody());

  // The gateway's SERVER span continues the storefront's traceparent; the proxy forwards it.
  app.use(
    "*",
    httpTracing("gateway", {
      spanName: (c) => {
        const upstream = upstreamForPath(c.req.path);
        return upstream ? `${c.req.method} proxy ${upstream}` : `${c.req.method} ${c.req.path}`;
      },
    }),
  );

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  // The gateway holds no connections of its own: it is ready as soon as it listens.
  app.get("/readyz", (c) => c.json({ status: "ready" }));
  app.get("/openapi.json", async (c) => {
    const doc = await openapi.document();
    if (!doc)
      throw new HttpProblem(502, "bad-gateway", "Bad Gateway", "no service served /openapi.json");
    return c.json(doc);
  });
  app.route("/", docsRoutes());

  app.use(
    "*",
    bodyLimit({
      maxSize: config.BODY_LIMIT_BYTES,
      onError: () => {
        throw new HttpProblem(
          413,
          "payload-too-large",
          "Payload Too Large",
          `request bodies are limited to ${config.BODY_LIMIT_BYTES} bytes`,
          undefined,
          // The rest of the body is never read, so this connection cannot carry another request.
          { connection: "close" },
        );
      },
    }),
  );
  app.all("*", proxyToServices({ pools, timeoutMs: config.UPSTREAM_TIMEOUT_MS, logger }));

  app.onError((error, c) => {
    if (error instanceof HttpProblem) return problemResponse(c, error);
    logger.error({ err: error, method: c.req.method, path: c.req.path }, "gateway error");
    return problemResponse(
      c,
      new HttpProblem(500, "internal-error", "Internal Server Error", "the gateway failed"),
    );
  });
  return app;
}
