import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mergeOpenApiDocuments, type OpenApiDocument } from "../src/openapi.ts";
import type { RunningGateway } from "../src/server.ts";
import { type RunningServer, startServer, startTestGateway, unreachableUrl } from "./helpers.ts";

const problemSchema = { type: "object", properties: { type: { type: "string" } } };
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonResponse = (name: string) => ({
  description: "ok",
  content: { "application/json": { schema: ref(name) } },
});

function serviceDocument(paths: OpenApiDocument["paths"], schemas: Record<string, unknown>) {
  return {
    openapi: "3.1.0",
    info: { title: "service", version: "1" },
    paths: {
      "/healthz": { get: { responses: { 200: { description: "alive" } } } },
      "/metrics": { get: { responses: { 200: { description: "prometheus" } } } },
      ...paths,
    },
    components: {
      schemas,
      securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
    },
    security: [{ bearerAuth: [] }],
  } satisfies OpenApiDocument;
}

const checkoutDoc = serviceDocument(
  {
    "/v1/cart": { get: { tags: ["cart"], responses: { 200: jsonResponse("Cart") } } },
    "/v1/checkouts/{id}": { get: { responses: { 200: jsonResponse("Problem") } } },
  },
  {
    Cart: { type: "object", properties: { lines: { type: "array" } } },
    Problem: problemSchema,
  },
);

const ordersDoc = serviceDocument(
  {
    "/v1/orders/{id}": { get: { responses: { 200: jsonResponse("Order") } } },
    // Not under a prefix the gateway sends to orders: it must not be advertised.
    "/v1/cart": { get: { responses: { 200: jsonResponse("Order") } } },
  },
  {
    Order: { type: "object", properties: { problem: ref("Problem"), number: { type: "string" } } },
    Problem: { ...problemSchema, description: "orders' own variant" },
  },
);

describe("mergeOpenApiDocuments", () => {
  const merged = mergeOpenApiDocuments([
    { service: "checkout", doc: checkoutDoc },
    { service: "orders", doc: ordersDoc },
  ]);

  it("keeps only the paths each service owns behind the gateway", () => {
    expect(Object.keys(merged.paths ?? {}).sort()).toEqual([
      "/v1/cart",
      "/v1/checkouts/{id}",
      "/v1/orders/{id}",
    ]);
    expect(merged.paths?.["/v1/cart"]).toEqual(
      expect.objectContaining({ get: expect.objectContaining({ tags: ["cart"] }) }),
    );
  });

  it("renames a schema two services define differently, refs included", () => {
    const schemas = merged.components?.schemas ?? {};
    expect(schemas.Problem).toEqual(problemSchema);
    expect(schemas.orders_Problem).toEqual({
      ...problemSchema,
      description: "orders' own variant",
    });
    expect(schemas.Order).toMatchObject({
      properties: { problem: { $ref: "#/components/schemas/orders_Problem" } },
    });
    expect(schemas.Cart).toBeDefined();
  });

  it("tags untagged operations with their service and keeps their security", () => {
    const operation = merged.paths?.["/v1/orders/{id}"]?.get as Record<string, unknown>;
    expect(operation.tags).toEqual(["orders"]);
    expect(operation.security).toEqual([{ bearerAuth: [] }]);
    expect(merged.components?.securitySchemes).toEqual(checkoutDoc.components.securitySchemes);
  });

  it("does not change the documents it merges", () => {
    expect(ordersDoc.components.schemas).toHaveProperty(
      "Problem.description",
      "orders' own variant",
    );
    expect(ordersDoc.paths).not.toHaveProperty(["/v1/orders/{id}", "get", "tags"]);
  });
});

describe("GET /openapi.json", () => {
  let checkout: RunningServer;
  let orders: RunningServer;
  let gateway: RunningGateway;

  beforeAll(async () => {
    const serve = (doc: OpenApiDocument) => new Hono().get("/openapi.json", (c) => c.json(doc));
    checkout = await startServer(serve(checkoutDoc));
    orders = await startServer(serve(ordersDoc));
    gateway = await startTestGateway({
      CHECKOUT_URL: checkout.url,
      ORDERS_URL: orders.url,
      INVENTORY_URL: await unreachableUrl(),
    });
  });

  afterAll(async () => {
    await gateway?.close();
    await Promise.all([checkout?.close(), orders?.close()]);
  });

  const fetchMerged = async () => {
    const res = await fetch(`${gateway.url}/openapi.json`);
    expect(res.status).toBe(200);
    return (await res.json()) as OpenApiDocument;
  };

  it("merges the services' documents into one OpenAPI 3.1 document", async () => {
    const doc = await fetchMerged();
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths ?? {})).toContain("/v1/orders/{id}");
    expect(Object.keys(doc.paths ?? {})).not.toContain("/healthz");
    expect(doc.info.description).toMatch(/inventory/);
  });

  it("keeps serving a service's last good document while it is down", async () => {
    await fetchMerged();
    await orders.close();
    const doc = await fetchMerged();
    expect(Object.keys(doc.paths ?? {})).toContain("/v1/orders/{id}");
  });
});
