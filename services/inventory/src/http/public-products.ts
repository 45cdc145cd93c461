import { HttpProblem, problemContent, type ServiceApp } from "@codflow/shared";
import { createRoute, z } from "@hono/zod-openapi";
import { loadProduct } from "../db/catalog-views.ts";
import type { RouteDeps } from "./deps.ts";
import { publicProductSchema, toPublicProduct } from "./schemas.ts";

export function registerPublicProductRoutes(app: ServiceApp, deps: RouteDeps) {
  const read = createRoute({
    method: "get",
    path: "/v1/products/{idOrSlug}",
    tags: ["products"],
    summary: "A product with its variants, prices and availability (archived ones answer inactive)",
    request: {
      params: z.object({
        idOrSlug: z
          .string()
          .min(1)
          .max(100)
          .openapi({ param: { name: "idOrSlug", in: "path" } }),
      }),
    },
    responses: {
      200: {
        description: "The product",
        content: { "application/json": { schema: publicProductSchema } },
      },
      404: problemContent("No such product"),
    },
  });
  app.openapi(read, async (c) => {
    const { idOrSlug } = c.req.valid("param");
    const product = await loadProduct(deps.sql, idOrSlug);
    if (!product)
      throw new HttpProblem(404, "not-found", "Product not found", `no product ${idOrSlug}`);
    return c.json(toPublicProduct(product), 200);
  });
}
