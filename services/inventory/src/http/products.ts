import { auth, inTransaction, problemContent, type ServiceApp, type TxSql } from "@codflow/shared";
import { createRoute } from "@hono/zod-openapi";
import { loadProduct } from "../db/catalog-views.ts";
import { archiveProduct, createProduct, updateProduct } from "../db/products.ts";
import type { RouteDeps } from "./deps.ts";
import { asProblem } from "./refusals.ts";
import {
  adminProductSchema,
  idParams,
  newProductSchema,
  productChangeSchema,
  toAdminProduct,
} from "./schemas.ts";

const json = <S>(schema: S) => ({ "application/json": { schema } });
const refusedAccess = {
  401: problemContent("No valid token"),
  403: problemContent("Not an admin"),
};

export function registerProductRoutes(app: ServiceApp, deps: RouteDeps) {
  const admin = auth({ verify: deps.verifyToken, roles: ["admin"] });

  /** Reads the product back inside the transaction that changed it. */
  const changed = async (tx: TxSql, id: string) => {
    const product = await loadProduct(tx, id);
    if (!product) throw new Error(`product ${id} vanished inside its own transaction`);
    return toAdminProduct(product);
  };

  const create = createRoute({
    method: "post",
    path: "/v1/admin/catalog/products",
    tags: ["catalog"],
    summary: "Create a product with its variants and initial stock",
    security: [{ bearer: [] }],
    middleware: [admin] as const,
    request: { body: { required: true, content: json(newProductSchema) } },
    responses: {
      201: { description: "Created", content: json(adminProductSchema) },
      400: problemContent("Invalid body"),
      ...refusedAccess,
      409: problemContent("slug-taken or sku-taken"),
      422: problemContent("vendor-unknown"),
    },
  });
  app.openapi(create, async (c) => {
    const input = c.req.valid("json");
    const product = await inTransaction(deps.sql, "inventory.create-product", async (tx) =>
      changed(tx, await createProduct(tx, deps.namespace, input)),
    ).catch(asProblem);
    return c.json(product, 201);
  });

  const update = createRoute({
    method: "patch",
    path: "/v1/admin/catalog/products/{id}",
    tags: ["catalog"],
    summary: "Rename a product or switch it on or off",
    security: [{ bearer: [] }],
    middleware: [admin] as const,
    request: { params: idParams, body: { required: true, content: json(productChangeSchema) } },
    responses: {
      200: { description: "The changed product", content: json(adminProductSchema) },
      400: problemContent("Invalid body"),
      ...refusedAccess,
      404: problemContent("No such product"),
    },
  });
  app.openapi(update, async (c) => {
    const { id } = c.req.valid("param");
    const change = c.req.valid("json");
    const product = await inTransaction(deps.sql, "inventory.update-product", async (tx) => {
      await updateProduct(tx, deps.namespace, id, change);
      return changed(tx, id);
    }).catch(asProblem);
    return c.json(product, 200);
  });

  const archive = createRoute({
    method: "delete",
    path: "/v1/admin/catalog/products/{id}",
    tags: ["catalog"],
    summary: "Archive a product (orders keep their snapshot)",
    security: [{ bearer: [] }],
    middleware: [admin] as const,
    request: { params: idParams },
    responses: {
      204: { description: "Archived" },
      400: problemContent("Invalid id"),
      ...refusedAccess,
      404: problemContent("No such product"),
    },
  });
  app.openapi(archive, async (c) => {
    const { id } = c.req.valid("param");
    await inTransaction(deps.sql, "inventory.archive-product", (tx) =>
      archiveProduct(tx, deps.namespace, id),
    ).catch(asProblem);
    return c.body(null, 204);
  });
}
