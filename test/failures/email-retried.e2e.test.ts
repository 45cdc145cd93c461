import { waitFor } from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mailsTo } from "../support/failure-kit.ts";
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
  outage = await startWithSmtpDown();
}, 120_000);

afterAll(async () => {
  await outage?.stop();
});

describe("SMTP is down, then back within the retry window (issue 3, item 10)", () => {
  it("confirms the order while the email is pending, then sends exactly one email", async () => {
    const { shop, db, stack } = outage;
    const { buyer, checkout } = await placeConfirmedOrder(shop, "Patient");

    const pending = await waitFor(
      async () => {
        const email = await confirmationEmailTo(db.notifier, buyer.email);
        return email && email.attempts >= 2 && email;
      },
      { what: "two failed sending attempts" },
    );
    expect(pending.status).toBe("pending");
    expect(pending.lastError).toMatch(/\S/);

    const sink = await outage.smtpBack();
    await waitFor(
      async () => (await confirmationEmailTo(db.notifier, buyer.email))?.status === "sent",
      { timeoutMs: 20_000, what: "the email sent once SMTP is back" },
    );

    const settled = await shop.api.get(`/v1/checkouts/${checkout.id}`, { token: buyer.token });
    expect(settled.body.status).toBe("confirmed");
    expect(await waitForQuiescence(stack, { timeoutMs: 15_000 })).toEqual({ deadLetters: 0 });
    expect(await checkInvariant(stack.databaseUrls)).toEqual([]);
    const mails = mailsTo(sink, buyer.email);
    expect(mails).toHaveLength(1);
    expect(mails[0]?.text).toContain(checkout.orderNumber);
  });
});
