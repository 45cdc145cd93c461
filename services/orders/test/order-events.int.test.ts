import { createDatabase } from "@codflow/shared";
import { createTestDatabase } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertOrders } from "../src/db/insert-order.ts";
import { reservedData, shippingAddress } from "./helpers.ts";

let testDb: Awaited<ReturnType<typeof createTestDatabase>>;
let database: ReturnType<typeof createDatabase>;
let orderId: string;

beforeAll(async () => {
  testDb = await createTestDatabase("orders");
  database = createDatabase(testDb.url, { max: 2 });
  const vendorId = uuidv7();
  const data = reservedData(vendorId);
  await database.sql`insert into vendors (id, name, slug, revision) values (${vendorId}, 'V', 'v', 1)`;
  await database.sql`
    insert into checkout_contacts (checkout_id, phone, shipping_address)
    values (${data.checkoutId}, '+15555550100', ${JSON.stringify(shippingAddress)}::jsonb)`;
  orderId = uuidv7();
  await database.sql.begin((tx) => insertOrders(tx, [{ ...data, id: orderId, audit: {} }]));
});
afterAll(async () => {
  await database?.close();
  await testDb?.drop();
});

describe("order_events (the audit trail)", () => {
  it("refuses UPDATE: the database keeps every audit row as written", async () => {
    await expect(
      database.sql`update order_events set to_status = 'cancelled' where order_id = ${orderId}`,
    ).rejects.toThrow(/append-only: UPDATE refused/);
  });

  it("refuses DELETE and TRUNCATE", async () => {
    await expect(
      database.sql`delete from order_events where order_id = ${orderId}`,
    ).rejects.toThrow(/append-only: DELETE refused/);
    await expect(database.sql`truncate order_events`).rejects.toThrow(
      /append-only: TRUNCATE refused/,
    );
    const rows = await database.sql`select to_status from order_events where order_id = ${orderId}`;
    expect(rows).toEqual([{ to_status: "confirmed" }]);
  });

  it("accepts appended rows", async () => {
    await database.sql`
      insert into order_events (order_id, actor, role, from_status, to_status)
      values (${orderId}, 'ops-1', 'admin', 'confirmed', 'shipped')`;
    const rows =
      await database.sql`select count(*)::int as n from order_events where order_id = ${orderId}`;
    expect(rows[0]?.n).toBe(2);
  });
});
