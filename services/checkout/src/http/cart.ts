import { auth, HttpProblem, problemContent, type ServiceApp } from "@codflow/shared";
import { createRoute, z } from "@hono/zod-openapi";
import type { AppDeps } from "../app.ts";
import {
  addToCart,
  deleteCartLine,
  loadPricedCart,
  MAX_LINE_QTY,
  setCartLineQty,
} from "../db/cart.ts";
import { findCatalogPrice } from "../db/catalog.ts";
import { cartTotal, type PricedCartLine } from "../domain/cart.ts";

const qtySchema = z.number().int().min(1).max(MAX_LINE_QTY).openapi({ example: 2 });

const cartLineSchema = z
  .object({
    id: z.uuid(),
    variantId: z.uuid(),
    qty: z.number().int(),
    unitPriceMinor: z.number().int().openapi({ description: "today's price from the catalog" }),
    currency: z.string(),
    sellable: z
      .boolean()
      .openapi({ description: "false: checkout refuses the cart until removed" }),
  })
  .openapi("CartLine");

const cartSchema = z
  .object({
    lines: z.array(cartLineSchema),
    totalMinor: z.number().int(),
    currency: z.string().nullable().openapi({ description: "null for an empty cart" }),
  })
  .openapi("Cart");

const lineParams = z.object({ id: z.uuid().openapi({ param: { name: "id", in: "path" } }) });

const authProblems = {
  401: problemContent("No or invalid bearer token"),
  403: problemContent("Not a customer"),
} as const;

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

export function registerCartRoutes(app: ServiceApp, deps: AppDeps) {
  const customerOnly = auth({ verify: deps.verifyToken, roles: ["customer"] });
  const common = { tags: ["cart"], security: [{ bearer: [] }], middleware: customerOnly };

  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/v1/cart",
      summary: "The customer's cart, priced from the catalog",
      responses: { 200: json(cartSchema, "The cart"), ...authProblems },
    }),
    async (c) => {
      const cart = await loadPricedCart(deps.sql, c.get("user").id);
      const lines = cart?.lines ?? [];
      return c.json({ lines, ...cartTotal(lines) }, 200);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "post",
      path: "/v1/cart/lines",
      summary: "Add a variant to the cart, or add to its line",
      request: {
        body: {
          required: true,
          content: {
            "application/json": {
              schema: z.object({ variantId: z.uuid(), qty: qtySchema }).openapi("AddCartLine"),
            },
          },
        },
      },
      responses: {
        201: json(cartLineSchema, "The line as it is now"),
        400: problemContent("Invalid body, or the line would hold more than 100"),
        ...authProblems,
        422: problemContent("variant-unavailable: unknown or not sellable"),
      },
    }),
    async (c) => {
      const { variantId, qty } = c.req.valid("json");
      const price = await findCatalogPrice(deps.sql, variantId);
      if (!price?.sellable) {
        throw new HttpProblem(
          422,
          "variant-unavailable",
          "Variant unavailable",
          `variant ${variantId} is unknown or not for sale`,
        );
      }
      const line = await addToCart(deps.sql, { customerId: c.get("user").id, variantId, qty });
      if (!line) {
        throw new HttpProblem(
          400,
          "validation-failed",
          "The request is not valid",
          "invalid body",
          [{ path: "qty", message: `the line would hold more than ${MAX_LINE_QTY}` }],
        );
      }
      const { priceMinor: unitPriceMinor, currency, sellable } = price;
      return c.json({ ...line, variantId, unitPriceMinor, currency, sellable }, 201);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "patch",
      path: "/v1/cart/lines/{id}",
      summary: "Set the quantity of a cart line",
      request: {
        params: lineParams,
        body: {
          required: true,
          content: {
            "application/json": { schema: z.object({ qty: qtySchema }).openapi("SetCartLineQty") },
          },
        },
      },
      responses: {
        200: json(cartLineSchema, "The line as it is now"),
        400: problemContent("Invalid body"),
        ...authProblems,
        404: problemContent("No such line in this customer's cart"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const line = await setCartLineQty(deps.sql, {
        customerId: c.get("user").id,
        lineId: id,
        qty: c.req.valid("json").qty,
      });
      if (!line) throw lineNotFound(id);
      return c.json(line satisfies PricedCartLine, 200);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "delete",
      path: "/v1/cart/lines/{id}",
      summary: "Remove a cart line",
      request: { params: lineParams },
      responses: {
        204: { description: "Removed" },
        ...authProblems,
        404: problemContent("No such line in this customer's cart"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      if (!(await deleteCartLine(deps.sql, { customerId: c.get("user").id, lineId: id }))) {
        throw lineNotFound(id);
      }
      return c.body(null, 204);
    },
  );
}

const lineNotFound = (id: string) =>
  new HttpProblem(404, "not-found", "Cart line not found", `no line ${id} in your cart`);
