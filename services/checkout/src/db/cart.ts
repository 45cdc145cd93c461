import type { Sql, TxSql } from "@codflow/shared";
import { v7 as uuidv7 } from "uuid";
import type { PricedCartLine } from "../domain/cart.ts";

export const MAX_LINE_QTY = 100;

/** The customer's cart with replica prices, or undefined when they never had one. */
export async function loadPricedCart(sql: Sql | TxSql, customerId: string) {
  // A cart without lines comes back as one row whose line columns are null.
  const rows = await sql<(PricedCartLine & { cartId: string })[]>`
    select c.id as "cartId", l.id, l.variant_id as "variantId", l.qty,
           v.price_minor as "unitPriceMinor", v.currency, v.sellable
    from carts c
    left join (cart_lines l join catalog_variants v on v.variant_id = l.variant_id)
      on l.cart_id = c.id
    where c.customer_id = ${customerId}
    order by l.created_at, l.id`;
  const [first] = rows;
  if (!first) return undefined;
  const lines: PricedCartLine[] = rows
    .filter((row) => row.id !== null)
    .map(({ cartId: _, ...line }) => line);
  return { cartId: first.cartId, lines };
}

/**
 * Adds a line, or adds to the line of that variant, in one statement (the cart is created on
 * first use). Returns undefined when the sum would pass MAX_LINE_QTY: the guarded upsert
 * decides, so two concurrent adds can never go over it.
 */
export async function addToCart(
  sql: Sql | TxSql,
  { customerId, variantId, qty }: { customerId: string; variantId: string; qty: number },
) {
  const [row] = await sql<{ id: string; qty: number }[]>`
    with cart as (
      insert into carts (id, customer_id) values (${uuidv7()}, ${customerId})
      on conflict (customer_id) do update set updated_at = now()
      returning id
    )
    insert into cart_lines (id, cart_id, variant_id, qty)
    select ${uuidv7()}, cart.id, ${variantId}, ${qty} from cart
    on conflict (cart_id, variant_id) do update
    set qty = cart_lines.qty + excluded.qty, updated_at = now()
    where cart_lines.qty + excluded.qty <= ${MAX_LINE_QTY}
    returning id, qty`;
  return row;
}

/** Sets the quantity of one of the customer's own lines; undefined when it is not theirs. */
export async function setCartLineQty(
  sql: Sql | TxSql,
  { customerId, lineId, qty }: { customerId: string; lineId: string; qty: number },
) {
  const [row] = await sql<PricedCartLine[]>`
    update cart_lines l set qty = ${qty}, updated_at = now()
    from carts c, catalog_variants v
    where l.id = ${lineId} and c.id = l.cart_id and c.customer_id = ${customerId}
      and v.variant_id = l.variant_id
    returning l.id, l.variant_id as "variantId", l.qty, v.price_minor as "unitPriceMinor",
              v.currency, v.sellable`;
  return row;
}

/** Removes one of the customer's own lines; false when it is not theirs. */
export async function deleteCartLine(
  sql: Sql | TxSql,
  { customerId, lineId }: { customerId: string; lineId: string },
) {
  const deleted = await sql`
    delete from cart_lines l using carts c
    where l.id = ${lineId} and c.id = l.cart_id and c.customer_id = ${customerId}
    returning 1`;
  return deleted.length > 0;
}
