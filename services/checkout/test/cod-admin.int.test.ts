import { waitFor } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CodAuditRow } from "../src/db/cod-customers.ts";
import {
  type CheckoutFixture,
  customer,
  givenVariant,
  json,
  lifecycleData,
  problemSlug,
  staff,
  startCheckoutFixture,
} from "./helpers.ts";

let fx: CheckoutFixture;
beforeAll(async () => {
  fx = await startCheckoutFixture({ consumers: true });
});
afterAll(() => fx.close());

interface CodProfileJson {
  customerId: string;
  codDisabled: boolean;
  disabledReason: string | null;
  disabledBy: string | null;
  phoneVerified: boolean;
  incidentsCountedSince: string | null;
  activeOrders: number;
  audit: CodAuditRow[];
}

const DAY_MS = 24 * 60 * 60 * 1000;

describe("PUT /v1/admin/customers/:userId/cod", () => {
  it("disables and enables COD with a reason, each change audited with actor, role, from and to", async () => {
    const ada = await customer(fx);
    const ops = await staff(fx, "admin");

    const off = await ops.call("PUT", `/v1/admin/customers/${ada.id}/cod`, {
      disabled: true,
      reason: "chargeback fraud ring",
    });
    expect(off.status).toBe(200);
    expect(await json<CodProfileJson>(off)).toMatchObject({
      customerId: ada.id,
      codDisabled: true,
      disabledReason: "chargeback fraud ring",
      disabledBy: ops.id,
      phoneVerified: true,
    });
    const on = await ops.call("PUT", `/v1/admin/customers/${ada.id}/cod`, {
      disabled: false,
      reason: "cleared by support",
    });
    expect(await json<CodProfileJson>(on)).toMatchObject({
      codDisabled: false,
      disabledReason: null,
    });

    const res = await ops.call("GET", `/v1/admin/customers/${ada.id}/cod`);
    expect(res.status).toBe(200);
    const profile = await json<CodProfileJson>(res);
    expect(profile.audit).toEqual([
      {
        actor: ops.id,
        role: "admin",
        at: expect.stringMatching(/Z$/),
        from: { codDisabled: false },
        to: { codDisabled: true },
        reason: "chargeback fraud ring",
        data: null,
      },
      expect.objectContaining({
        from: { codDisabled: true },
        to: { codDisabled: false },
        reason: "cleared by support",
      }),
    ]);
  });

  it("requires a non-empty reason (400)", async () => {
    const ops = await staff(fx, "admin");
    for (const body of [{ disabled: true }, { disabled: true, reason: "  " }, { reason: "x" }]) {
      const res = await ops.call("PUT", "/v1/admin/customers/customer-x/cod", body);
      expect(res.status).toBe(400);
    }
  });

  it("is for admins only: customers and couriers get 403, no token 401", async () => {
    const ada = await customer(fx);
    const courier = await staff(fx, "courier");
    const path = `/v1/admin/customers/${ada.id}/cod`;
    const body = { disabled: true, reason: "mine" };
    expect((await ada.call("PUT", path, body)).status).toBe(403);
    expect((await ada.call("GET", path)).status).toBe(403);
    expect((await courier.call("PUT", path, body)).status).toBe(403);
    expect((await fx.app.request(path)).status).toBe(401);
    const [profile] =
      await fx.sql`select cod_disabled from cod_customers where customer_id = ${ada.id}`;
    expect(profile?.cod_disabled).toBe(false);
  });
});

describe("the COD audit table", () => {
  it("refuses UPDATE, DELETE and TRUNCATE in the database itself", async () => {
    const ops = await staff(fx, "admin");
    await ops.call("PUT", "/v1/admin/customers/customer-audited/cod", {
      disabled: true,
      reason: "r",
    });

    await expect(fx.sql`update cod_audit set reason = 'rewritten'`).rejects.toThrow(/append-only/);
    await expect(fx.sql`delete from cod_audit`).rejects.toThrow(/append-only/);
    await expect(fx.sql`truncate cod_audit`).rejects.toThrow(/append-only/);
    const [row] = await fx.sql<{ n: number }[]>`select count(*)::int as n from cod_audit`;
    expect(row?.n).toBeGreaterThan(0);
  });
});

describe("auto-disable on failed and returned deliveries", () => {
  async function deliveryFailed(customerId: string, orderId = uuidv7(), at = new Date()) {
    const event = await fx.publish("orders.delivery_failed", {
      ...lifecycleData(uuidv7(), customerId, { orderId, at }),
      reason: "customer_refused",
      attempt: 1,
    });
    await waitFor(() => fx.handled("checkout.on-orders-delivery-failed", event.id), {
      what: "delivery_failed handled",
    });
  }

  async function returned(customerId: string, orderId = uuidv7()) {
    const event = await fx.publish(
      "orders.returned",
      lifecycleData(uuidv7(), customerId, { orderId }),
    );
    await waitFor(() => fx.handled("checkout.on-orders-returned", event.id), {
      what: "returned handled",
    });
  }

  const profileOf = async (customerId: string) =>
    json<CodProfileJson>(
      await (await staff(fx, "admin")).call("GET", `/v1/admin/customers/${customerId}/cod`),
    );

  it("disables COD at the 2nd failed or returned order within 90 days, with the reason and a system audit row", async () => {
    const ada = await customer(fx);
    const orderId = uuidv7();
    await deliveryFailed(ada.id, orderId);
    await deliveryFailed(ada.id, orderId); // a second attempt of the same order is no new incident
    expect((await profileOf(ada.id)).codDisabled).toBe(false);

    await returned(ada.id);

    const profile = await profileOf(ada.id);
    expect(profile).toMatchObject({
      codDisabled: true,
      disabledReason: "2 failed or returned COD deliveries in 90 days",
      disabledBy: "system",
    });
    expect(profile.audit).toEqual([
      expect.objectContaining({
        actor: "system",
        role: "system",
        from: { codDisabled: false },
        to: { codDisabled: true },
        reason: "2 failed or returned COD deliveries in 90 days",
      }),
    ]);
    await ada.addLine((await givenVariant(fx)).variantId, 1);
    const refused = await ada.checkout(uuidv7());
    expect(refused.status).toBe(403);
    expect(await problemSlug(refused)).toBe("cod-disabled");
  });

  it("does not count incidents older than 90 days", async () => {
    const ada = await customer(fx);
    await deliveryFailed(ada.id, uuidv7(), new Date(Date.now() - 91 * DAY_MS));
    await deliveryFailed(ada.id);
    expect((await profileOf(ada.id)).codDisabled).toBe(false);
  });

  it("stays lifted after an admin enables COD: only incidents after the lift count", async () => {
    const ada = await customer(fx);
    await deliveryFailed(ada.id);
    await deliveryFailed(ada.id);
    expect((await profileOf(ada.id)).codDisabled).toBe(true);
    const ops = await staff(fx, "admin");
    await ops.call("PUT", `/v1/admin/customers/${ada.id}/cod`, {
      disabled: false,
      reason: "courier error",
    });

    await deliveryFailed(ada.id);
    expect((await profileOf(ada.id)).codDisabled).toBe(false);

    await deliveryFailed(ada.id);
    const profile = await profileOf(ada.id);
    expect(profile.codDisabled).toBe(true);
    expect(
      profile.audit.map((a) => [a.actor === "system" ? "system" : "admin", a.to.codDisabled]),
    ).toEqual([
      ["system", true],
      ["admin", false],
      ["system", true],
    ]);
  });
});

describe("GET /v1/me/cod", () => {
  it("shows the customer their phone status, COD switch and open COD orders", async () => {
    const ada = await customer(fx);
    const res = await ada.call("GET", "/v1/me/cod");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      phoneVerified: true,
      phoneVerifiedAt: expect.stringMatching(/Z$/),
      codDisabled: false,
      disabledReason: null,
      activeOrders: 0,
      maxActiveOrders: 3,
    });
  });
});
