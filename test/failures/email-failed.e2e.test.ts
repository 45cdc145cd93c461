import { waitFor } from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkInvariant } from "../support/invariants.ts";
import {
  confirmationEmailTo,
  type MailOutage,
  placeConfirmedOrder,
  startWithSmtpDown,
} from "../support/mail-outage.ts";
import { waitForQuiescence } from "../support/quiescence.ts";

let outage: MailOutage;

beforeAll(async () => {
  outage = await startWithSmtpDown({ NOTIFY_MAX_ATTEMPTS: "2" });
}, 120_000);

afterAll(async () => {
  await outage?.stop();
});

describe("SMTP stays down (issue 3, item 10)", () => {
  it("marks the email failed after NOTIFY_MAX_ATTEMPTS and leaves the order untouched", async () => {
    const { shop, db, stack } = outage;
    const { buyer, checkout, order } = await placeConfirmedOrder(shop, "Unlucky");

    const failed = await waitFor(
      async () => {
        const email = await confirmationEmailTo(db.notifier, buyer.email);
        return email?.status === "failed" && email;
      },
      { what: "the email marked failed" },
    );
    expect(failed.attempts).toBe(2);
    expect(failed.lastError).toMatch(/\S/);

    const after = await shop.api.get(`/v1/orders/${order.id}`, { token: buyer.token });
    expect(after.body.status).toBe("confirmed");
    expect(after.body.history).toEqual(order.history);
    const audit = await db.orders<{ toStatus: string }[]>`
      select to_status as "toStatus" from order_events where order_id = ${order.id}`;
    expect(audit).toEqual([{ toStatus: "confirmed" }]);
    const settled = await shop.api.get(`/v1/checkouts/${checkout.id}`, { token: buyer.token });
    expect(settled.body).toMatchObject({ status: "confirmed", orderId: order.id });
    expect(await waitForQuiescence(stack, { timeoutMs: 15_000 })).toEqual({ deadLetters: 0 });
    expect(await checkInvariant(stack.databaseUrls)).toEqual([]);
  });
});
