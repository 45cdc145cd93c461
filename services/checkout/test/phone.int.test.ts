import { Writable } from "node:stream";
import { createLogger } from "@codflow/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CheckoutFixture,
  json,
  problemSlug,
  startCheckoutFixture,
  unverifiedCustomer,
} from "./helpers.ts";

/** Every line the service logs, as written. */
const logLines: string[] = [];
const logger = createLogger({
  service: "checkout",
  level: "trace",
  destination: new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  }),
});

let fx: CheckoutFixture;
beforeAll(async () => {
  fx = await startCheckoutFixture({ consumers: true, logger });
});
afterAll(() => fx.close());

const PHONE = "+4915112345678";
type Shopper = Awaited<ReturnType<typeof unverifiedCustomer>>;

const requestCode = (shopper: Shopper, phone = PHONE) =>
  shopper.call("POST", "/v1/me/phone/verification", { phone });
const confirmCode = (shopper: Shopper, code: string) =>
  shopper.call("POST", "/v1/me/phone/verification/confirm", { code });

interface CodeEvent {
  id: string;
  data: {
    verificationId: string;
    customerId: string;
    phone: string;
    code: string;
    expiresAt: string;
  };
}

/** The codes sent to a customer, newest last, as the notifier receives them. */
async function sentCodes(customerId: string) {
  const rows = await fx.sql<{ envelope: CodeEvent }[]>`
    select envelope from outbox
    where type = 'checkout.phone_verification_requested'
      and envelope->'data'->>'customerId' = ${customerId}
    order by created_at`;
  return rows.map((r) => r.envelope);
}

const wrongCodeFor = (code: string) => (code === "000000" ? "111111" : "000000");

const myCod = async (shopper: Shopper) =>
  json<{ phoneVerified: boolean; phoneVerifiedAt: string | null }>(
    await shopper.call("GET", "/v1/me/cod"),
  );

describe("POST /v1/me/phone/verification", () => {
  it("answers 202, emits the code for the SMS and keeps only a salted hash of it", async () => {
    const ada = await unverifiedCustomer(fx);

    const res = await requestCode(ada);

    expect(res.status).toBe(202);
    const body = await json<{ verificationId: string; expiresAt: string }>(res);
    const [event, ...more] = await sentCodes(ada.id);
    expect(more).toEqual([]);
    expect(event?.data).toEqual({
      verificationId: body.verificationId,
      customerId: ada.id,
      phone: PHONE,
      code: expect.stringMatching(/^\d{6}$/),
      expiresAt: body.expiresAt,
    });
    const expiresInS = (Date.parse(body.expiresAt) - Date.now()) / 1000;
    expect(expiresInS).toBeGreaterThan(590);
    expect(expiresInS).toBeLessThanOrEqual(600);
    const [stored] =
      await fx.sql`select * from phone_verifications where id = ${body.verificationId}`;
    expect(JSON.stringify(stored)).not.toContain(event?.data.code);
    expect(stored?.code_hash).toEqual(expect.any(String));
  });

  it("refuses a second code within 30 s with 429 otp-resend-limited and Retry-After", async () => {
    const ada = await unverifiedCustomer(fx);
    expect((await requestCode(ada)).status).toBe(202);

    const again = await requestCode(ada);

    expect(again.status).toBe(429);
    expect(await problemSlug(again)).toBe("otp-resend-limited");
    const retryAfter = Number(again.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(30);
    expect(await sentCodes(ada.id)).toHaveLength(1);
  });

  it("sends at most 5 codes an hour", async () => {
    const ada = await unverifiedCustomer(fx);
    for (let sent = 0; sent < 5; sent++) {
      expect((await requestCode(ada)).status).toBe(202);
      // as if the 30 s between two codes had passed
      await fx.sql`
        update phone_verifications set created_at = created_at - interval '31 seconds'
        where customer_id = ${ada.id}`;
    }

    const sixth = await requestCode(ada);

    expect(sixth.status).toBe(429);
    expect(await problemSlug(sixth)).toBe("otp-resend-limited");
    expect(Number(sixth.headers.get("retry-after"))).toBeGreaterThan(30);
  });

  it("refuses a number that is not E.164 with 400", async () => {
    const ada = await unverifiedCustomer(fx);
    const res = await requestCode(ada, "0151 1234567");
    expect(res.status).toBe(400);
  });
});

describe("POST /v1/me/phone/verification/confirm", () => {
  it("verifies the phone with the right code (200 phoneVerified) and refuses that code a second time", async () => {
    const ada = await unverifiedCustomer(fx);
    await requestCode(ada);
    const [event] = await sentCodes(ada.id);
    expect((await myCod(ada)).phoneVerified).toBe(false);

    const res = await confirmCode(ada, event?.data.code as string);

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ phoneVerified: true });
    expect((await myCod(ada)).phoneVerified).toBe(true);
    const [profile] =
      await fx.sql`select verified_phone from cod_customers where customer_id = ${ada.id}`;
    expect(profile?.verified_phone).toBe(PHONE);
    const reused = await confirmCode(ada, event?.data.code as string);
    expect(reused.status).toBe(410);
    expect(await problemSlug(reused)).toBe("otp-expired");
  });

  it("answers a wrong code 422 otp-invalid and commits the attempt", async () => {
    const ada = await unverifiedCustomer(fx);
    await requestCode(ada);
    const [event] = await sentCodes(ada.id);

    const res = await confirmCode(ada, wrongCodeFor(event?.data.code as string));

    expect(res.status).toBe(422);
    expect(await problemSlug(res)).toBe("otp-invalid");
    const [row] =
      await fx.sql`select attempts from phone_verifications where customer_id = ${ada.id}`;
    expect(row?.attempts).toBe(1);
  });

  it("refuses even the right code after 5 wrong ones with 429 otp-attempts-exceeded", async () => {
    const ada = await unverifiedCustomer(fx);
    await requestCode(ada);
    const code = (await sentCodes(ada.id))[0]?.data.code as string;
    for (let attempt = 0; attempt < 5; attempt++) {
      expect((await confirmCode(ada, wrongCodeFor(code))).status).toBe(422);
    }

    const sixth = await confirmCode(ada, code);

    expect(sixth.status).toBe(429);
    expect(await problemSlug(sixth)).toBe("otp-attempts-exceeded");
    expect((await myCod(ada)).phoneVerified).toBe(false);
  });

  it("answers an expired code 410 otp-expired", async () => {
    const ada = await unverifiedCustomer(fx);
    await requestCode(ada);
    const code = (await sentCodes(ada.id))[0]?.data.code as string;
    await fx.sql`
      update phone_verifications set expires_at = now() - interval '1 second'
      where customer_id = ${ada.id}`;

    const res = await confirmCode(ada, code);

    expect(res.status).toBe(410);
    expect(await problemSlug(res)).toBe("otp-expired");
    expect((await myCod(ada)).phoneVerified).toBe(false);
  });

  it("answers 410 otp-expired when no code was ever sent", async () => {
    const ada = await unverifiedCustomer(fx);
    const res = await confirmCode(ada, "123456");
    expect(res.status).toBe(410);
  });

  it("checks only the newest code sent", async () => {
    const ada = await unverifiedCustomer(fx);
    await requestCode(ada);
    await fx.sql`
      update phone_verifications set created_at = created_at - interval '31 seconds'
      where customer_id = ${ada.id}`;
    await requestCode(ada, "+4915199999999");
    const [older, newer] = await sentCodes(ada.id);
    if (older?.data.code !== newer?.data.code) {
      expect((await confirmCode(ada, older?.data.code as string)).status).toBe(422);
    }

    expect((await confirmCode(ada, newer?.data.code as string)).status).toBe(200);
    const [profile] =
      await fx.sql`select verified_phone from cod_customers where customer_id = ${ada.id}`;
    expect(profile?.verified_phone).toBe("+4915199999999");
  });
});

describe("the service's logs during the OTP flow", () => {
  it("never contain the code or the phone number", async () => {
    const ada = await unverifiedCustomer(fx);
    logLines.length = 0;
    await requestCode(ada);
    const [event] = await sentCodes(ada.id);
    const code = event?.data.code as string;
    await confirmCode(ada, wrongCodeFor(code));
    await confirmCode(ada, code);
    // what a relay, consumer or request log would write about the event and the request
    logger.debug({ event, envelope: event, body: { code } }, "event and request body");
    logger.debug(event?.data ?? {}, "event data at top level");

    const written = logLines.join("");
    expect(written).toContain("phone verification code issued");
    expect(written).toContain("event and request body");
    expect(written).not.toContain(code);
    expect(written).not.toContain(PHONE);
    expect(written).not.toContain(PHONE.slice(1));
  });
});
