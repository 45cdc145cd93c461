import { Batcher, HttpProblem, inTransaction, type NewEvent, type TxSql } from "@codflow/shared";
import type { z } from "@hono/zod-openapi";
import { v7 as uuidv7 } from "uuid";
import type { AppDeps } from "./app.ts";
import {
  type AcceptedCheckout,
  claimKeysWithCarts,
  insertAcceptedCheckouts,
  isCartInCheckout,
  type KeyClaim,
} from "./db/accept-checkout.ts";
import type { CheckoutView } from "./db/checkouts.ts";
import { type CodFacts, lockCodProfilesWithFacts } from "./db/cod-customers.ts";
import { type CartSnapshot, snapshotCart } from "./domain/cart.ts";
import { type CodRefusal, checkCodEligibility } from "./domain/eligibility.ts";
import { requestHash } from "./domain/request-hash.ts";
import type { checkoutRequestSchema } from "./http/checkouts.ts";
import { type CheckoutMetrics, createCheckoutMetrics } from "./metrics.ts";

export interface CheckoutRequest {
  customerId: string;
  customerEmail: string | null;
  key: string;
  body: z.infer<typeof checkoutRequestSchema>;
  /** The request's trace context for its `checkout.requested` (a batch runs in one context). */
  traceHeaders: Record<string, string>;
}

/** A new checkout comes back as `created`, the view the caller may start waiting from. */
export interface Acceptance {
  id: string;
  status: CheckoutView["status"];
  created?: CheckoutView;
}

/** Requests of one customer never share a batch: their COD rules count each other's orders. */
export function createCheckoutAcceptor(deps: AppDeps) {
  const metrics = createCheckoutMetrics(deps.metrics);
  const batches = new Batcher<CheckoutRequest, Acceptance>(
    (requests) => {
      metrics.acceptQueued.dec(requests.length);
      return acceptTogether(deps, metrics, requests);
    },
    {
      concurrency: deps.config.CHECKOUT_ACCEPT_CONCURRENCY,
      maxSize: MAX_BATCH,
      keyOf: (request) => request.customerId,
    },
  );
  return (request: CheckoutRequest) => {
    metrics.acceptQueued.inc();
    return batches.add(request);
  };
}

/** Bounds one transaction's locks and statements (at 300 checkouts/s offered they carried ~20). */
const MAX_BATCH = 64;

/**
 * One transaction for the batch. A cart already in checkout when the batch's claim read it is
 * refused there, alone. When the batch fails as a whole (a checkout of one of its carts that
 * another batch or replica committed meanwhile, a deadlock with another replica's batch, a lost
 * connection), each request is tried again alone, so one request's trouble is never the others'.
 */
async function acceptTogether(
  deps: AppDeps,
  metrics: CheckoutMetrics,
  requests: CheckoutRequest[],
): Promise<PromiseSettledResult<Acceptance>[]> {
  metrics.acceptBatchSize.observe(requests.length);
  try {
    return await inTransaction(deps.sql, "checkout.accept", (tx) =>
      acceptCheckouts(tx, deps, metrics, requests),
    );
  } catch (err) {
    if (requests.length > 1) {
      // a cart already in checkout is the customer's doing; anything else is worth a look
      deps.logger[isCartInCheckout(err) ? "info" : "warn"](
        { err, requests: requests.length },
        "accepting checkouts together failed; accepting each alone",
      );
      return Promise.all(requests.map((request) => acceptAlone(deps, metrics, request)));
    }
    if (isCartInCheckout(err)) throw checkoutInProgress();
    throw err;
  }
}

async function acceptAlone(
  deps: AppDeps,
  metrics: CheckoutMetrics,
  request: CheckoutRequest,
): Promise<PromiseSettledResult<Acceptance>> {
  try {
    const [settled] = await acceptTogether(deps, metrics, [request]);
    if (settled) return settled;
    return { status: "rejected", reason: new Error("the acceptance settled nothing") };
  } catch (reason) {
    return { status: "rejected", reason };
  }
}

type Decision =
  | { kind: "settled"; result: PromiseSettledResult<Acceptance> }
  | {
      kind: "eligible";
      id: string;
      cartId: string;
      snapshot: Extract<CartSnapshot, { ok: true }>;
    };

/**
 * The whole acceptance of a batch in the caller's transaction: claim the keys (or answer their
 * replays), snapshot the priced carts, lock the customers' COD profiles and judge COD eligibility
 * under them (so concurrent checkouts of one customer count active orders one after another),
 * insert the checkouts `processing` with their lines and active-order slots, append their
 * `checkout.requested`. A refused request gets its problem and its key back, as if its own
 * transaction had rolled back; the others go on.
 */
async function acceptCheckouts(
  tx: TxSql,
  deps: AppDeps,
  metrics: CheckoutMetrics,
  requests: CheckoutRequest[],
): Promise<PromiseSettledResult<Acceptance>[]> {
  const ids = requests.map(() => uuidv7());
  const claims = await claimKeysWithCarts(
    tx,
    requests.map((r, i) => ({
      customerId: r.customerId,
      key: r.key,
      requestHash: requestHash(r.body),
      checkoutId: ids[i] as string,
    })),
  );
  const decisions = requests.map((r, i) =>
    decideOnClaim(claims.get(r.customerId), ids[i] as string),
  );
  const claimed = requests.filter((_, i) => decisions[i]?.kind === "eligible");
  const facts = claimed.length
    ? await lockCodProfilesWithFacts(
        tx,
        claimed.map((r) => ({
          customerId: r.customerId,
          locked: profileOf(claims.get(r.customerId)),
        })),
      )
    : new Map<string, CodFacts>();

  const accepted: AcceptedCheckout[] = [];
  const refusedKeys: { customerId: string; key: string }[] = [];
  const final = requests.map((request, i): Decision => {
    const decision = decisions[i] as Decision;
    if (decision.kind === "settled") {
      if (claims.get(request.customerId)?.kind === "claimed") refusedKeys.push(request);
      return decision;
    }
    const refusal = codRefusal(deps, metrics, request, decision, facts.get(request.customerId));
    if (refusal) {
      refusedKeys.push(request);
      return { kind: "settled", result: { status: "rejected", reason: refusal } };
    }
    accepted.push(newCheckout(request, decision));
    return decision;
  });
  if (accepted.length === 0 && refusedKeys.length === 0) return final.map(settlement);

  const inserted = await insertAcceptedCheckouts(tx, deps.namespace, accepted, refusedKeys);
  return final.map((decision) => {
    if (decision.kind === "settled") return decision.result;
    const times = inserted.get(decision.id);
    // rolls the batch back: committing would leave this request's key claimed with no checkout,
    // so its retries would hear `request-in-progress` for ever
    if (!times) throw new Error(`checkout ${decision.id} was not inserted`);
    const { snapshot, id } = decision;
    const created: CheckoutView = {
      id,
      status: "processing",
      totalMinor: snapshot.totalMinor,
      currency: snapshot.currency,
      ...times,
    };
    return { status: "fulfilled", value: { id, status: created.status, created } };
  });
}

const settlement = (decision: Decision): PromiseSettledResult<Acceptance> =>
  decision.kind === "settled"
    ? decision.result
    : { status: "rejected", reason: new Error(`checkout ${decision.id} was left undecided`) };

const profileOf = (claim: KeyClaim | undefined) =>
  claim?.kind === "claimed" ? claim.profile : undefined;

/** What the key claim alone decides: a replay, a refusal, or a cart to judge. */
function decideOnClaim(claim: KeyClaim | undefined, id: string): Decision {
  const refuse = (reason: unknown): Decision => ({
    kind: "settled",
    result: { status: "rejected", reason },
  });
  if (!claim) return refuse(new Error("the key claim returned nothing for this customer"));
  if (claim.kind === "replay") {
    return {
      kind: "settled",
      result: { status: "fulfilled", value: { id: claim.checkoutId, status: claim.status } },
    };
  }
  if (claim.kind === "reused") {
    return refuse(
      new HttpProblem(
        409,
        "idempotency-key-reused",
        "Idempotency-Key reused",
        "this key was sent before with a different request; use a new key for a new checkout",
      ),
    );
  }
  if (claim.kind === "in-progress") {
    return refuse(
      new HttpProblem(409, "request-in-progress", "Request in progress", "retry shortly"),
    );
  }
  const snapshot = snapshotCart(claim.cart?.lines ?? []);
  if (!snapshot.ok || !claim.cart) return refuse(cartRefusal(snapshot));
  if (claim.cart.inCheckout) return refuse(checkoutInProgress());
  return { kind: "eligible", id, cartId: claim.cart.cartId, snapshot };
}

function codRefusal(
  deps: AppDeps,
  metrics: CheckoutMetrics,
  request: CheckoutRequest,
  decision: Extract<Decision, { kind: "eligible" }>,
  facts: CodFacts | undefined,
): HttpProblem | Error | undefined {
  if (!facts) return new Error(`no COD facts were read for customer ${request.customerId}`);
  const { profile, ...counts } = facts;
  const eligibility = checkCodEligibility(
    {
      paymentMethod: request.body.paymentMethod,
      totalMinor: decision.snapshot.totalMinor,
      currency: decision.snapshot.currency,
      phone: request.body.phone,
      profile,
      ...counts,
    },
    {
      maxOrderMinor: deps.config.COD_MAX_ORDER_MINOR,
      maxActiveOrders: deps.config.COD_MAX_ACTIVE_ORDERS,
    },
  );
  if (eligibility.eligible) return undefined;
  const { slug, title, detail } = eligibility.refusal;
  metrics.codRefusals.inc({ slug });
  return new HttpProblem(REFUSAL_STATUS[slug], slug, title, detail);
}

function newCheckout(
  request: CheckoutRequest,
  { id, cartId, snapshot }: Extract<Decision, { kind: "eligible" }>,
): AcceptedCheckout {
  const { customerId, customerEmail, body } = request;
  const requested: NewEvent<"checkout.requested"> & { traceHeaders: Record<string, string> } = {
    type: "checkout.requested",
    correlationId: id,
    causationId: null,
    traceHeaders: request.traceHeaders,
    data: {
      checkoutId: id,
      customerId,
      customerEmail,
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
  const checkout = {
    id,
    customerId,
    customerEmail,
    cartId,
    totalMinor: snapshot.totalMinor,
    currency: snapshot.currency,
    phone: body.phone,
    shippingAddress: body.shippingAddress,
    lines: snapshot.lines,
  };
  return { checkout, requested };
}

const REFUSAL_STATUS = {
  "payment-method-unsupported": 422,
  "cod-disabled": 403,
  "phone-verification-required": 403,
  "cod-limit-exceeded": 422,
  "cod-active-limit": 429,
} as const satisfies Record<CodRefusal["slug"], number>;

const checkoutInProgress = () =>
  new HttpProblem(
    409,
    "checkout-in-progress",
    "Checkout in progress",
    "this cart has a checkout still processing; wait for its outcome",
  );

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
