import { type OutboxEntry, outboxInsert, type ShippingAddress, type TxSql } from "@codflow/shared";
import type { PricedCartLine } from "../domain/cart.ts";
import { type ProfileDbRow, profileColumns } from "./cod-customers.ts";
import type { CheckoutStatus } from "./schema.ts";

/*
 * The statements that make POST /v1/checkouts cheap. Counted with postgres.js `debug` on one
 * accepted checkout, the transaction was 9 round trips (BEGIN; claim the key; read the cart;
 * lock the COD profile; read the COD facts; insert checkout + lines; take the active-order slot;
 * append to the outbox; COMMIT) and is now 5: the claim reads the cart and locks the COD profile
 * in the same statement, and one statement writes the checkout, its lines, its slot and its
 * outbox row. The facts stay a statement of their own after the lock (see
 * lockCodProfilesWithFacts). Each statement takes a batch of requests of different customers
 * (the accept batcher groups them), so under load those 5 round trips serve many checkouts.
 */

export type KeyClaim =
  | {
      kind: "claimed";
      /** `inCheckout`: a checkout of this cart was processing when the statement began. */
      cart?: { cartId: string; lines: PricedCartLine[]; inCheckout: boolean };
      /** The customer's COD profile, locked; undefined when they have none yet. */
      profile?: ProfileDbRow;
    }
  | { kind: "replay"; checkoutId: string; status: CheckoutStatus }
  | { kind: "reused" }
  | { kind: "in-progress" };

type ClaimRow = PricedCartLine & {
  customerId: string;
  claimed: boolean;
  profile: ProfileDbRow | null;
  cartId: string | null;
  cartInCheckout: boolean;
};

export interface KeyToClaim {
  customerId: string;
  key: string;
  requestHash: string;
  checkoutId: string;
}

/**
 * Binds each `key` to its `checkoutId` for its customer and reads the customer's priced cart
 * (undefined when they never had one), or tells who holds the key; one customer at most once.
 * A concurrent request with the same key waits on the primary key until the holder commits
 * (then it is a replay or a reuse) or rolls back (then it claims the key itself): the database
 * decides the race. The carts are read with the statement's snapshot, taken before any such
 * wait; a rolled-back holder changed no cart.
 *
 * A claimed key also locks the customer's COD profile in the same statement (what
 * lockCodProfilesWithFacts would otherwise do in one more round trip). The lock is taken only
 * after the key: the profiles' filter reads the claims first, so two requests with one key never
 * hold the profile and the key crosswise (a deadlock), and a replay locks nothing. Keys and
 * profiles are locked in customer order, so two batches sharing customers wait, never deadlock.
 * The COD facts are still read by the next statement, which sees what the lock's previous holder
 * committed.
 *
 * It also tells whether each cart has a checkout processing (as of the statement's snapshot), so
 * a customer who checks out again with a new key while one is processing is refused alone
 * instead of failing the batch's insert on the one-processing-per-cart index. A checkout
 * committed after the snapshot (a concurrent batch or replica) still fails the insert: the index
 * decides, and the batch is retried one request at a time.
 */
export async function claimKeysWithCarts(
  tx: TxSql,
  keys: readonly KeyToClaim[],
): Promise<Map<string, KeyClaim>> {
  // One row per customer at least (cart columns null without a cart, line columns without lines).
  const rows = await tx<ClaimRow[]>`
    with req as (
      select * from unnest(${keys.map((k) => k.customerId)}::text[], ${keys.map((k) => k.key)}::text[],
                           ${keys.map((k) => k.requestHash)}::text[],
                           ${keys.map((k) => k.checkoutId)}::uuid[])
        as r(customer_id, key, request_hash, checkout_id)
    ), claim as (
      insert into idempotency_keys (customer_id, key, request_hash, checkout_id)
      select customer_id, key, request_hash, checkout_id from req order by customer_id, key
      on conflict do nothing
      returning customer_id
    ), profile as (
      select ${profileColumns(tx)} from cod_customers
      where customer_id in (select customer_id from claim)
      order by customer_id
      for update
    )
    select r.customer_id as "customerId", k.customer_id is not null as claimed,
           to_jsonb(p) as profile, c.id as "cartId",
           exists (select 1 from checkouts ch where ch.cart_id = c.id and ch.status = 'processing')
             as "cartInCheckout",
           l.id, l.variant_id as "variantId", l.qty,
           v.price_minor as "unitPriceMinor", v.currency, v.sellable
    from req r
    left join claim k on k.customer_id = r.customer_id
    left join profile p on p."customerId" = r.customer_id
    left join carts c on c.customer_id = r.customer_id
    left join (cart_lines l join catalog_variants v on v.variant_id = l.variant_id)
      on l.cart_id = c.id
    order by r.customer_id, l.created_at, l.id`;
  const rowsOf = new Map<string, ClaimRow[]>();
  for (const row of rows) {
    const own = rowsOf.get(row.customerId);
    if (own) own.push(row);
    else rowsOf.set(row.customerId, [row]);
  }
  const claims = new Map<string, KeyClaim>();
  const unclaimed: KeyToClaim[] = [];
  for (const k of keys) {
    const own = rowsOf.get(k.customerId) ?? [];
    const [first] = own;
    if (!first?.claimed) {
      unclaimed.push(k);
      continue;
    }
    const profile = first.profile ?? undefined;
    if (!first.cartId) {
      claims.set(k.customerId, { kind: "claimed", profile });
      continue;
    }
    const lines: PricedCartLine[] = own
      .filter((row) => row.id !== null)
      .map(({ id, variantId, qty, unitPriceMinor, currency, sellable }) => ({
        id,
        variantId,
        qty,
        unitPriceMinor,
        currency,
        sellable,
      }));
    claims.set(k.customerId, {
      kind: "claimed",
      cart: { cartId: first.cartId, lines, inCheckout: first.cartInCheckout },
      profile,
    });
  }
  if (unclaimed.length > 0) {
    for (const [customerId, claim] of await heldKeys(tx, unclaimed)) claims.set(customerId, claim);
  }
  return claims;
}

/** Who holds each key this transaction could not claim: a replay, a reuse, or a request in progress. */
async function heldKeys(tx: TxSql, keys: readonly KeyToClaim[]): Promise<Map<string, KeyClaim>> {
  const held = await tx<
    { customerId: string; requestHash: string; checkoutId: string; status: CheckoutStatus }[]
  >`
    select k.customer_id as "customerId", k.request_hash as "requestHash",
           k.checkout_id as "checkoutId", c.status
    from unnest(${keys.map((k) => k.customerId)}::text[], ${keys.map((k) => k.key)}::text[])
      as r(customer_id, key)
    join idempotency_keys k on k.customer_id = r.customer_id and k.key = r.key
    join checkouts c on c.id = k.checkout_id`;
  const byCustomer = new Map(held.map((row) => [row.customerId, row]));
  return new Map(
    keys.map((k): [string, KeyClaim] => {
      const row = byCustomer.get(k.customerId);
      if (!row) return [k.customerId, { kind: "in-progress" }];
      if (row.requestHash !== k.requestHash) return [k.customerId, { kind: "reused" }];
      return [k.customerId, { kind: "replay", checkoutId: row.checkoutId, status: row.status }];
    }),
  );
}

export interface NewCheckout {
  id: string;
  customerId: string;
  customerEmail: string | null;
  cartId: string;
  totalMinor: number;
  currency: string;
  phone: string;
  shippingAddress: ShippingAddress;
  lines: PricedCartLine[];
}

export interface AcceptedCheckout {
  checkout: NewCheckout;
  requested: OutboxEntry;
}

/**
 * Inserts each checkout `processing` with its line snapshot, takes its COD active-order slot and
 * appends its `requested` to the outbox (this process's relay wakes at commit), and lets go of
 * the keys of refused requests (as a rollback would have), in one statement. Returns each
 * checkout's timestamps by id. A cart that already has a checkout processing fails the statement
 * (the partial unique index says so: see isCartInCheckout) and with it the transaction.
 */
export async function insertAcceptedCheckouts(
  tx: TxSql,
  namespace: string,
  accepted: readonly AcceptedCheckout[],
  refusedKeys: readonly { customerId: string; key: string }[],
): Promise<Map<string, { createdAt: string; updatedAt: string }>> {
  const checkouts = accepted.map((a) => a.checkout);
  const lines = checkouts.flatMap((c) => c.lines.map((line) => ({ checkoutId: c.id, ...line })));
  const appended =
    accepted.length > 0
      ? tx`, appended as (${
          outboxInsert(
            tx,
            namespace,
            accepted.map((a) => a.requested),
          ).insert
        })`
      : tx``;
  const rows = await tx<{ id: string; createdAt: string; updatedAt: string }[]>`
    with checkout as (
      insert into checkouts (id, customer_id, customer_email, cart_id, status, total_minor,
                             currency, phone, shipping_address)
      select c.id, c.customer_id, c.customer_email, c.cart_id, 'processing', c.total_minor,
             c.currency, c.phone, c.shipping_address
      from unnest(
        ${checkouts.map((c) => c.id)}::uuid[],
        ${checkouts.map((c) => c.customerId)}::text[],
        ${checkouts.map((c) => c.customerEmail)}::text[],
        ${checkouts.map((c) => c.cartId)}::uuid[],
        ${checkouts.map((c) => c.totalMinor)}::int[],
        ${checkouts.map((c) => c.currency)}::text[],
        ${checkouts.map((c) => c.phone)}::text[],
        ${checkouts.map((c) => JSON.stringify(c.shippingAddress))}::jsonb[]
      ) as c(id, customer_id, customer_email, cart_id, total_minor, currency, phone,
             shipping_address)
      returning id, customer_id, created_at, updated_at
    ), lines as (
      insert into checkout_lines (checkout_id, cart_line_id, variant_id, qty, unit_price_minor,
                                  currency)
      select checkout.id, l.cart_line_id, l.variant_id, l.qty, l.unit_price_minor, l.currency
      from checkout join unnest(
        ${lines.map((l) => l.checkoutId)}::uuid[],
        ${lines.map((l) => l.id)}::uuid[],
        ${lines.map((l) => l.variantId)}::uuid[],
        ${lines.map((l) => l.qty)}::int[],
        ${lines.map((l) => l.unitPriceMinor)}::int[],
        ${lines.map((l) => l.currency)}::text[]
      ) as l(checkout_id, cart_line_id, variant_id, qty, unit_price_minor, currency)
        on l.checkout_id = checkout.id
    ), slot as (
      insert into cod_active_orders (checkout_id, customer_id)
      select id, customer_id from checkout
      on conflict do nothing
    ), released as (
      delete from idempotency_keys k
      using unnest(${refusedKeys.map((r) => r.customerId)}::text[],
                   ${refusedKeys.map((r) => r.key)}::text[]) as r(customer_id, key)
      where k.customer_id = r.customer_id and k.key = r.key
    )${appended}
    select id, created_at as "createdAt", updated_at as "updatedAt" from checkout`;
  return new Map(
    rows.map((row) => [
      row.id,
      {
        createdAt: new Date(row.createdAt).toISOString(),
        updatedAt: new Date(row.updatedAt).toISOString(),
      },
    ]),
  );
}

/** The statement failed because a cart of it has a checkout processing already. */
export const isCartInCheckout = (err: unknown) =>
  isUniqueViolation(err, "checkouts_one_processing_per_cart");

const isUniqueViolation = (err: unknown, constraint: string) =>
  (err as { code?: string }).code === "23505" &&
  (err as { constraint_name?: string }).constraint_name === constraint;
