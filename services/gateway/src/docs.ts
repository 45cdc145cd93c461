import { createRequire } from "node:module";
import { dirname } from "node:path";
import { serveStatic } from "@hono/node-server/serve-static";
import { swaggerUI } from "@hono/swagger-ui";
import { Hono } from "hono";

/** Where the gateway serves swagger-ui-dist's files, so /docs needs no CDN (works offline). */
export const DOCS_ASSETS_BASE = "/docs/assets";

const swaggerUiDistDir = dirname(
  createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"),
);

/**
 * `GET /docs`: Swagger UI for the merged `/openapi.json`, its script and stylesheet served
 * from the installed swagger-ui-dist package.
 */
export function docsRoutes(): Hono {
  const docs = new Hono();
  docs.get(
    "/docs",
    swaggerUI({
      url: "/openapi.json",
      baseUrl: DOCS_ASSETS_BASE,
      title: "codflow API",
      // "none" turns off the badge that asks validator.swagger.io about the document.
      validatorUrl: "none",
      persistAuthorization: true,
    }),
  );
  // @hono/swagger-ui asks for `${baseUrl}/swagger-ui-dist/<file>`.
  const assetPrefix = `${DOCS_ASSETS_BASE}/swagger-ui-dist`;
  docs.get(
    `${assetPrefix}/*`,
    serveStatic({
      root: swaggerUiDistDir,
      rewriteRequestPath: (path) => path.slice(assetPrefix.length),
    }),
  );
  return docs;
}
