import {
  auth,
  HttpProblem,
  injectTraceContext,
  problemContent,
  rejectedLineSchema,
  runWithContext,
  type ServiceApp,
  shippingAddressSchema,
} from "@codflow/shared";
import { createRoute, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { createCheckoutAcceptor } from "../accept-checkouts.ts";
import type { AppDeps } from "../app.ts";
import { findOwnCheckout } from "../db/checkouts.ts";
import { CHECKOUT_STATUSES } from "../db/schema.ts";
import { createCheckoutMetrics } from "../metrics.ts";
import { waitForOutcome } from "../status-watch.ts";
import { E164 } from "./phone.ts";
import { preferredWaitSeconds } from "./prefer-wait.ts";
import { clientIp, customerOf, rateLimit } from "./rate-limit.ts";

export const checkoutRequestSchema = z
  .object({
    paymentMethod: z.literal("cod"),
    phone: z.string().regex(E164, "an E.164 number, e.g. +4915112345678"),
    shippingAddress: shippingAddressSchema,
  })
  .openapi("CheckoutRequest");

const checkoutHeaders = z.object({
  "idempotency-key": z
    .string({ error: "the Idempotency-Key header is required" })
    .min(1)
    .max(255)
    .openapi({ example: "3f1c2a9e-5b7d-4e0a-9c61-2d8f7b4a1e05" }),
  prefer: z.string().optional().openapi({
    description: "wait=N (1..10 s): answer once the outcome is known",
    example: "wait=5",
  }),
});

const acceptedSchema = z
  .object({ id: z.uuid(), status: z.enum(CHECKOUT_STATUSES), statusUrl: z.string() })
  .openapi("CheckoutAccepted");

const checkoutSchema = z
  .object({
    id: z.uuid(),
    status: z.enum(CHECKOUT_STATUSES),
    orderId: z.uuid().optional(),
    orderNumber: z.string().optional(),
    failure: z
      .object({
        reason: z.string(),
        detail: z.string().openapi({
          description: "Why, in words the customer reads",
          example: "We could not reserve your items: Blue mug: 3 requested, 1 available.",
        }),
        lines: z.array(rejectedLineSchema).optional().openapi({
          description: "Per-line reasons when inventory rejected the checkout",
        }),
      })
      .optional(),
    totalMinor: z.number().int(),
    currency: z.string(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .openapi("Checkout");

const checkoutParams = z.object({ id: z.uuid().openapi({ param: { name: "id", in: "path" } }) });

const authProblems = {
  401: problemContent("No or invalid bearer token"),
  403: problemContent("Not a customer"),
} as const;

const statusUrl = (id: string) => `/v1/checkouts/${id}`;

export function registerCheckoutRoutes(app: ServiceApp, deps: AppDeps) {
  const customerOnly = auth({ verify: deps.verifyToken, roles: ["customer"] });
  const common = { tags: ["checkout"], security: [{ bearer: [] }], middleware: customerOnly };
  const metrics = createCheckoutMetrics(deps.metrics);
  const accept = createCheckoutAcceptor(deps);
  const { config } = deps;
  const limits = [
    rateLimit({
      sql: deps.sql,
      metrics,
      name: "checkout:ip",
      limit: config.RATE_LIMIT_CHECKOUT_PER_IP,
      windowSeconds: config.RATE_LIMIT_CHECKOUT_WINDOW_SECONDS,
      clientOf: clientIp,
    }),
    customerOnly,
    rateLimit({
      sql: deps.sql,
      metrics,
      name: "checkout:customer",
      limit: config.RATE_LIMIT_CHECKOUT_PER_CUSTOMER,
      windowSeconds: config.RATE_LIMIT_CHECKOUT_WINDOW_SECONDS,
      clientOf: customerOf,
    }),
  ];

  app.openapi(
    createRoute({
      ...common,
      middleware: limits,
      method: "post",
      path: "/v1/checkouts",
      summary: "Place a COD checkout of the whole cart",
      request: {
        headers: checkoutHeaders,
        body: {
          required: true,
          content: { "application/json": { schema: checkoutRequestSchema } },
        },
      },
      responses: {
        200: {
          description: "With Prefer: wait, the checkout reached a final status in time",
          content: { "application/json": { schema: checkoutSchema } },
        },
        202: {
          description: "Accepted (or the replay of an accepted request); follow statusUrl",
          headers: { Location: { schema: { type: "string" } } },
          content: { "application/json": { schema: acceptedSchema } },
        },
        400: problemContent("Invalid body or Idempotency-Key"),
        401: problemContent("No or invalid bearer token"),
        403: problemContent("Not a customer, cod-disabled or phone-verification-required"),
        409: problemContent(
          "cart-empty, checkout-in-progress, idempotency-key-reused or request-in-progress",
        ),
        422: problemContent("variant-unavailable, currency-mismatch or cod-limit-exceeded"),
        429: problemContent("cod-active-limit, or rate-limited (see Retry-After)"),
      },
    }),
    async (c) => {
      const user = c.get("user");
      const headers = c.req.valid("header");
      const body = c.req.valid("json");
      const { id, status, created } = await accept({
        customerId: user.id,
        customerEmail: user.email,
        key: headers["idempotency-key"],
        body,
        traceHeaders: injectTraceContext(),
      });
      if (created) metrics.accepted();
      return runWithContext({ correlationId: id }, async () => {
        c.header("Location", statusUrl(id));
        const waitSeconds = preferredWaitSeconds(headers.prefer);
        if (waitSeconds !== undefined) {
          c.header("Preference-Applied", `wait=${waitSeconds}`);
          const outcome = await waitForOutcome(deps.statusWatch, id, {
            ms: waitSeconds * 1000,
            signal: c.req.raw.signal,
            known: created,
          }).catch((err) => {
            deps.logger.warn({ err, checkoutId: id }, "waiting for the checkout outcome failed");
            return undefined;
          });
          if (outcome) return c.json(outcome, 200);
        }
        return c.json({ id, status, statusUrl: statusUrl(id) }, 202);
      });
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/v1/checkouts/{id}",
      summary: "A checkout and its outcome",
      request: { params: checkoutParams },
      responses: {
        200: {
          description: "The checkout",
          content: { "application/json": { schema: checkoutSchema } },
        },
        ...authProblems,
        404: problemContent("No such checkout of this customer"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const checkout = await findOwnCheckout(deps.sql, id, c.get("user").id);
      if (!checkout) throw checkoutNotFound(id);
      return c.json(checkout, 200);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/v1/checkouts/{id}/events",
      summary: "Server-sent `status` events: the current checkout, then each change",
      description: "Closes after a final status (confirmed or failed).",
      request: { params: checkoutParams },
      responses: {
        200: {
          description: "`event: status`, data = the Checkout JSON",
          content: { "text/event-stream": { schema: z.string() } },
        },
        ...authProblems,
        404: problemContent("No such checkout of this customer"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      if (!(await findOwnCheckout(deps.sql, id, c.get("user").id))) throw checkoutNotFound(id);
      return runWithContext({ correlationId: id }, () =>
        streamSSE(c, async (stream) => {
          const disconnected = new AbortController();
          stream.onAbort(() => disconnected.abort());
          if (stream.aborted) disconnected.abort();
          const signal = AbortSignal.any([disconnected.signal, c.req.raw.signal]);
          try {
            for await (const checkout of deps.statusWatch.watchCheckout(id, signal)) {
              const data = JSON.stringify(checkout);
              await stream.writeSSE({ event: "status", id: checkout.status, data });
            }
          } catch (err) {
            // The stream just ends (the client reconnects); the error text stays in our logs.
            deps.logger.warn({ err, checkoutId: id }, "checkout event stream failed");
          }
        }),
      );
    },
  );
}

const checkoutNotFound = (id: string) =>
  new HttpProblem(404, "not-found", "Checkout not found", `no checkout ${id} of yours`);
