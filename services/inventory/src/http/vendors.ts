import { auth, inTransaction, problemContent, type ServiceApp } from "@codflow/shared";
import { createRoute } from "@hono/zod-openapi";
import { createVendor } from "../db/vendors.ts";
import type { RouteDeps } from "./deps.ts";
import { asProblem } from "./refusals.ts";
import { newVendorSchema, vendorSchema } from "./schemas.ts";

export function registerVendorRoutes(app: ServiceApp, deps: RouteDeps) {
  const admin = auth({ verify: deps.verifyToken, roles: ["admin"] });

  const create = createRoute({
    method: "post",
    path: "/v1/admin/catalog/vendors",
    tags: ["catalog"],
    summary: "Create a vendor",
    security: [{ bearer: [] }],
    middleware: [admin] as const,
    request: {
      body: { required: true, content: { "application/json": { schema: newVendorSchema } } },
    },
    responses: {
      201: { description: "Created", content: { "application/json": { schema: vendorSchema } } },
      400: problemContent("Invalid body"),
      401: problemContent("No valid token"),
      403: problemContent("Not an admin"),
      409: problemContent("slug-taken"),
    },
  });
  app.openapi(create, async (c) => {
    const input = c.req.valid("json");
    const vendor = await inTransaction(deps.sql, "inventory.create-vendor", (tx) =>
      createVendor(tx, deps.namespace, input),
    ).catch(asProblem);
    return c.json(vendor, 201);
  });
}
