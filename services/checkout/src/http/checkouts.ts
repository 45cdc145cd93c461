import {
  auth,
  HttpProblem,
  inTransaction,
  type NewEvent,
  problemContent,
  rejectedLineSchema,
  runWithContext,
  type ServiceApp,
  shippingAddressSchema,
  type TxSql,
} from "@codflow/shared";
import { createRoute, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { v7 as uuidv7 } from "uuid";
import type { AppDeps } from "../app.ts";
import { claimKeyWithCart, insertAcceptedCheckout } from "../db/accept-checkout.ts";
import { type CheckoutView, findOwnCheckout } from "../db/checkouts.ts";
import { lockCodProfileWithFacts } from "../db/cod-customers.ts";
import { CHECKOUT_STATUSES } from "../db/schema.ts";
import { type CartSnapshot, snapshotCart } from "../domain/cart.ts";
import { type CodRefusal, checkCodEligibility } from "../domain/eligibility.ts";
import { requestHash } from "../domain/request-hash.ts";
import { createCheckoutMetrics } from "../metrics.ts";
import { waitForOutcome } from "../status-watch.ts";
import { E164 } from "./phone.ts";
import { preferredWaitSeconds } from "./prefer-wait.ts";
import { clientIp, customerOf, rateLimit } from "./rate-limit.ts";

const checkoutRequestSchema = z
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
      const { id, status, created } = await inTransaction(deps.sql, "checkout.accept", (tx) =>
        acceptCheckout(tx, deps, {
          customerId: user.id,
          customerEmail: user.email,
          key: headers["idempotency-key"],
          body,
        }),
      );
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

interface CheckoutRequest {
  customerId: string;
  customerEmail: string | null;
  key: string;
  body: z.infer<typeof checkoutRequestSchema>;
}

/**
 * The whole acceptance in the caller's transaction: claim the key (or answer its replay),
 * snapshot the priced cart, lock the customer's COD profile and judge COD eligibility under it
 * (so concurrent checkouts of one customer count active orders one after another), insert the
 * checkout `processing` with its lines and its active-order slot, append `checkout.requested`.
 * Any refusal throws, rolling everything back (the key too). A new checkout comes back as
 * `created`, the view the caller may start waiting from without reading it again.
 */
async function acceptCheckout(
  tx: TxSql,
  deps: AppDeps,
  request: CheckoutRequest,
): Promise<{ id: string; status: CheckoutView["status"]; created?: CheckoutView }> {
  const { customerId, body } = request;
  const id = uuidv7();
  const claim = await claimKeyWithCart(tx, {
    customerId,
    key: request.key,
    requestHash: requestHash(body),
    checkoutId: id,
  });
  if (claim.kind === "replay") {
    return { id: claim.checkoutId, status: claim.status };
  }
  if (claim.kind === "reused") {
    throw new HttpProblem(
      409,
      "idempotency-key-reused",
      "Idempotency-Key reused",
      "this key was sent before with a different request; use a new key for a new checkout",
    );
  }
  if (claim.kind === "in-progress") {
    throw new HttpProblem(409, "request-in-progress", "Request in progress", "retry shortly");
  }

  const { cart } = claim;
  const snapshot = snapshotCart(cart?.lines ?? []);
  if (!snapshot.ok || !cart) throw cartRefusal(snapshot);
  const { profile, ...facts } = await lockCodProfileWithFacts(tx, customerId, claim.profile);
  const eligibility = checkCodEligibility(
    {
      paymentMethod: body.paymentMethod,
      totalMinor: snapshot.totalMinor,
      currency: snapshot.currency,
      phone: body.phone,
      profile,
      ...facts,
    },
    {
      maxOrderMinor: deps.config.COD_MAX_ORDER_MINOR,
      maxActiveOrders: deps.config.COD_MAX_ACTIVE_ORDERS,
    },
  );
  if (!eligibility.eligible) {
    const { slug, title, detail } = eligibility.refusal;
    createCheckoutMetrics(deps.metrics).codRefusals.inc({ slug });
    throw new HttpProblem(REFUSAL_STATUS[slug], slug, title, detail);
  }

  const requested: NewEvent<"checkout.requested"> = {
    type: "checkout.requested",
    correlationId: id,
    causationId: null,
    data: {
      checkoutId: id,
      customerId,
      customerEmail: request.customerEmail,
      lines: snapshot.lines.map(({ variantId, qty, unitPriceMinor, currency }) => ({
        variantId,
        qty,
        unitPriceMinor,
        currency,
      })),
      totalMinor: snapshot.totalMinor,
      currency: snapshot.currency,
      phone: body.phone,
      shippingAddress: body.shippingAddress,
    },
  };
  const inserted = await insertAcceptedCheckout(
    tx,
    deps.namespace,
    {
      id,
      customerId,
      customerEmail: request.customerEmail,
      cartId: cart.cartId,
      totalMinor: snapshot.totalMinor,
      currency: snapshot.currency,
      phone: body.phone,
      shippingAddress: body.shippingAddress,
      lines: snapshot.lines,
    },
    requested,
  );
  if (!inserted) {
    throw new HttpProblem(
      409,
      "checkout-in-progress",
      "Checkout in progress",
      "this cart has a checkout still processing; wait for its outcome",
    );
  }
  const created: CheckoutView = {
    id,
    status: "processing",
    totalMinor: snapshot.totalMinor,
    currency: snapshot.currency,
    ...inserted,
  };
  return { id, status: created.status, created };
}

const REFUSAL_STATUS = {
  "payment-method-unsupported": 422,
  "cod-disabled": 403,
  "phone-verification-required": 403,
  "cod-limit-exceeded": 422,
  "cod-active-limit": 429,
} as const satisfies Record<CodRefusal["slug"], number>;

function cartRefusal(snapshot: CartSnapshot): HttpProblem {
  if (snapshot.ok || snapshot.refusal === "cart-empty") {
    return new HttpProblem(409, "cart-empty", "The cart is empty", "add items before checking out");
  }
  if (snapshot.refusal === "variant-unavailable") {
    return new HttpProblem(
      422,
      "variant-unavailable",
      "Variant unavailable",
      `no longer for sale: variant ${snapshot.variantIds.join(", ")}; remove them and try again`,
    );
  }
  return new HttpProblem(
    422,
    "currency-mismatch",
    "Mixed currencies",
    `the cart holds prices in ${snapshot.currencies.join(", ")}; one order takes one currency`,
  );
}

const checkoutNotFound = (id: string) =>
  new HttpProblem(404, "not-found", "Checkout not found", `no checkout ${id} of yours`);
