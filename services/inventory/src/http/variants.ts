import { auth, inTransaction, problemContent, type ServiceApp, type TxSql } from "@codflow/shared";
import { createRoute } from "@hono/zod-openapi";
import { loadVariant } from "../db/catalog-views.ts";
import { setOnHand, updateVariant } from "../db/variants.ts";
import type { RouteDeps } from "./deps.ts";
import { asProblem } from "./refusals.ts";
import {
  adminVariantSchema,
  idParams,
  stockChangeSchema,
  toAdminVariant,
  variantChangeSchema,
} from "./schemas.ts";

const json = <S>(schema: S) => ({ "application/json": { schema } });
const refusedAccess = {
  401: problemContent("No valid token"),
  403: problemContent("Not an admin"),
};

export function registerVariantRoutes(app: ServiceApp, deps: RouteDeps) {
  const admin = auth({ verify: deps.verifyToken, roles: ["admin"] });

  const changed = async (tx: TxSql, id: string) => {
    const variant = await loadVariant(tx, id);
    if (!variant) throw new Error(`variant ${id} vanished inside its own transaction`);
    return toAdminVariant(variant);
  };

  const update = createRoute({
    method: "patch",
    path: "/v1/admin/catalog/variants/{id}",
    tags: ["catalog"],
    summary: "Change a variant's price or switch it on or off",
    security: [{ bearer: [] }],
    middleware: [admin] as const,
    request: { params: idParams, body: { required: true, content: json(variantChangeSchema) } },
    responses: {
      200: { description: "The changed variant", content: json(adminVariantSchema) },
      400: problemContent("Invalid body"),
      ...refusedAccess,
      404: problemContent("No such variant"),
    },
  });
  app.openapi(update, async (c) => {
    const { id } = c.req.valid("param");
    const change = c.req.valid("json");
    const variant = await inTransaction(deps.sql, "inventory.update-variant", async (tx) => {
      await updateVariant(tx, deps.namespace, id, change);
      return changed(tx, id);
    }).catch(asProblem);
    return c.json(variant, 200);
  });

  const setStock = createRoute({
    method: "put",
    path: "/v1/admin/catalog/variants/{id}/stock",
    tags: ["catalog"],
    summary: "Set the counted stock on hand (the ledger records the difference)",
    security: [{ bearer: [] }],
    middleware: [admin] as const,
    request: { params: idParams, body: { required: true, content: json(stockChangeSchema) } },
    responses: {
      200: { description: "The variant with its new stock", content: json(adminVariantSchema) },
      400: problemContent("Invalid body"),
      ...refusedAccess,
      404: problemContent("No such variant"),
      409: problemContent("stock-below-allocated"),
    },
  });
  app.openapi(setStock, async (c) => {
    const { id } = c.req.valid("param");
    const { onHand } = c.req.valid("json");
    const variant = await inTransaction(deps.sql, "inventory.set-stock", async (tx) => {
      await setOnHand(tx, id, onHand);
      return changed(tx, id);
    }).catch(asProblem);
    return c.json(variant, 200);
  });
}
