import { type OutboxEntry, outboxInsert, type ShippingAddress, type TxSql } from "@codflow/shared";
import type { PricedCartLine } from "../domain/cart.ts";
import { type ProfileDbRow, profileColumns } from "./cod-customers.ts";
import type { CheckoutStatus } from "./schema.ts";

/*
 * The two statements that make POST /v1/checkouts cheap. Counted with postgres.js `debug` on one
 * accepted checkout, the transaction was 9 round trips (BEGIN; claim the key; read the cart;
 * lock the COD profile; read the COD facts; insert checkout + lines; take the active-order slot;
 * append to the outbox; COMMIT) and is now 5: the claim reads the cart and locks the COD profile
 * in the same statement, and one statement writes the checkout, its lines, its slot and its
 * outbox row. The facts stay a statement of their own after the lock (see
 * lockCodProfileWithFacts). With the per-customer rate limit the request makes 6 round trips
 * instead of 10; Prefer: wait adds none (it was 1).
 */

export type KeyClaim =
  | {
      kind: "claimed";
      cart?: { cartId: string; lines: PricedCartLine[] };
      /** The customer's COD profile, locked; undefined when they have none yet. */
      profile?: ProfileDbRow;
    }
  | { kind: "replay"; checkoutId: string; status: CheckoutStatus }
  | { kind: "reused" }
  | { kind: "in-progress" };

type ClaimRow = PricedCartLine & {
  claimed: boolean;
  profile: ProfileDbRow | null;
  cartId: string | null;
};

/**
 * Binds `key` to `checkoutId` for this customer and reads the customer's priced cart (undefined
 * when they never had one), or tells who holds the key. A concurrent request with the same key
 * waits on the primary key until the holder commits (then it is a replay or a reuse) or rolls
 * back (then it claims the key itself): the database decides the race. The cart is read with the
 * statement's snapshot, taken before any such wait; a rolled-back holder changed no cart.
 *
 * A claimed key also locks the customer's COD profile in the same statement (what
 * lockCodProfileWithFacts would otherwise do in one more round trip). The lock is taken only
 * after the key: the profile's one-time filter reads the claim first, so two requests with one
 * key never hold the profile and the key crosswise (a deadlock), and a replay locks nothing. The
 * COD facts are still read by the next statement, which sees what the lock's previous holder
 * committed.
 */
export async function claimKeyWithCart(
  tx: TxSql,
  k: { customerId: string; key: string; requestHash: string; checkoutId: string },
): Promise<KeyClaim> {
  // One row at least (cart columns null without a cart, line columns null without lines).
  const rows = await tx<ClaimRow[]>`
    with claim as (
      insert into idempotency_keys (customer_id, key, request_hash, checkout_id)
      values (${k.customerId}, ${k.key}, ${k.requestHash}, ${k.checkoutId})
      on conflict do nothing
      returning 1
    ), profile as (
      select ${profileColumns(tx)} from cod_customers
      where customer_id = ${k.customerId} and exists (select 1 from claim)
      for update
    )
    select exists (select 1 from claim) as claimed,
           (select to_jsonb(p) from profile p) as profile, c.id as "cartId", l.id,
           l.variant_id as "variantId", l.qty, v.price_minor as "unitPriceMinor", v.currency,
           v.sellable
    from (select 1) one
    left join carts c on c.customer_id = ${k.customerId}
    left join (cart_lines l join catalog_variants v on v.variant_id = l.variant_id)
      on l.cart_id = c.id
    order by l.created_at, l.id`;
  const [first] = rows;
  if (first?.claimed) {
    const profile = first.profile ?? undefined;
    if (!first.cartId) return { kind: "claimed", profile };
    const lines: PricedCartLine[] = rows
      .filter((row) => row.id !== null)
      .map(({ claimed: _, profile: __, cartId: ___, ...line }) => line);
    return { kind: "claimed", cart: { cartId: first.cartId, lines }, profile };
  }
  const [held] = await tx<{ requestHash: string; checkoutId: string; status: CheckoutStatus }[]>`
    select k.request_hash as "requestHash", k.checkout_id as "checkoutId", c.status
    from idempotency_keys k join checkouts c on c.id = k.checkout_id
    where k.customer_id = ${k.customerId} and k.key = ${k.key}`;
  if (!held) return { kind: "in-progress" };
  if (held.requestHash !== k.requestHash) return { kind: "reused" };
  return { kind: "replay", checkoutId: held.checkoutId, status: held.status };
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

/**
 * Inserts the checkout `processing` with its line snapshot, takes its COD active-order slot and
 * appends `requested` to the outbox (this process's relay wakes at commit), in one statement. Returns the
 * checkout's timestamps, or undefined when this cart already has a checkout processing (the
 * partial unique index said so, and nothing was written); the caller must then end the
 * transaction, which the failed statement has aborted.
 */
export async function insertAcceptedCheckout(
  tx: TxSql,
  namespace: string,
  c: NewCheckout,
  requested: OutboxEntry,
): Promise<{ createdAt: string; updatedAt: string } | undefined> {
  const { insert: appendRequested } = outboxInsert(tx, namespace, [requested]);
  try {
    const [row] = await tx<{ createdAt: string; updatedAt: string }[]>`
      with checkout as (
        insert into checkouts (id, customer_id, customer_email, cart_id, status, total_minor,
                               currency, phone, shipping_address)
        values (${c.id}, ${c.customerId}, ${c.customerEmail}, ${c.cartId}, 'processing',
                ${c.totalMinor}, ${c.currency}, ${c.phone}, ${JSON.stringify(c.shippingAddress)}::jsonb)
        returning id, customer_id, created_at, updated_at
      ), lines as (
        insert into checkout_lines (checkout_id, cart_line_id, variant_id, qty, unit_price_minor,
                                    currency)
        select checkout.id, l.cart_line_id, l.variant_id, l.qty, l.unit_price_minor, l.currency
        from checkout, unnest(
          ${c.lines.map((l) => l.id)}::uuid[],
          ${c.lines.map((l) => l.variantId)}::uuid[],
          ${c.lines.map((l) => l.qty)}::int[],
          ${c.lines.map((l) => l.unitPriceMinor)}::int[],
          ${c.lines.map((l) => l.currency)}::text[]
        ) as l(cart_line_id, variant_id, qty, unit_price_minor, currency)
      ), slot as (
        insert into cod_active_orders (checkout_id, customer_id)
        select id, customer_id from checkout
        on conflict do nothing
      ), appended as (${appendRequested})
      select created_at as "createdAt", updated_at as "updatedAt" from checkout`;
    if (!row) throw new Error(`checkout ${c.id} was not inserted`);
    return {
      createdAt: new Date(row.createdAt).toISOString(),
      updatedAt: new Date(row.updatedAt).toISOString(),
    };
  } catch (err) {
    if (isUniqueViolation(err, "checkouts_one_processing_per_cart")) return undefined;
    throw err;
  }
}

const isUniqueViolation = (err: unknown, constraint: string) =>
  (err as { code?: string }).code === "23505" &&
  (err as { constraint_name?: string }).constraint_name === constraint;
