import {
  drainUnreadBody,
  HttpProblem,
  httpTracing,
  type Logger,
  limitRequestBody,
  problemResponse,
} from "@codflow/shared";
import { Hono } from "hono";
import type { GatewayConfig } from "./config.ts";
import { docsRoutes } from "./docs.ts";
import { createOpenApiAggregator } from "./openapi.ts";
import type { UpstreamPools } from "./routes.ts";

export interface GatewayDeps {
  config: GatewayConfig;
  logger: Logger;
}

/**
 * What the gateway answers itself: its health, the merged OpenAPI document and docs, and 404
 * for any path no service owns. Proxied paths never reach it (see server.ts).
 */
export function createGatewayApp({
  config,
  logger,
  pools,
}: GatewayDeps & { pools: UpstreamPools }): Hono {
  const openapi = createOpenApiAggregator({ pools, logger });
  const app = new Hono();
  app.use("*", drainUnreadBody());

  app.use("*", httpTracing("gateway", { spanName: (c) => `${c.req.method} ${c.req.path}` }));

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

  app.use("*", limitRequestBody(config.BODY_LIMIT_BYTES));
  app.all("*", (c) => {
    throw new HttpProblem(404, "not-found", "Not Found", `no route for ${c.req.path}`);
  });

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
