import { createLogger, type EventData, startConsumer } from "@codflow/shared";
import { freePort, startTestPlatform, waitFor } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import { afterEach, describe, expect, it } from "vitest";
import { type SmsSink, startSmsSink } from "../../../scripts/lib/sms-sink.ts";
import {
  createNotifierMetrics,
  createSmsGateway,
  onPhoneVerificationRequested,
} from "../src/index.ts";

const CONSUMER = "notifier.phone-verification-sms";
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * The SMS consumer on a private platform, texting `gatewayUrl`, with quick redeliveries (3 at
 * most) and every log line it writes, at debug level, kept in `logs`.
 */
async function startSmsFixture(gatewayUrl: string) {
  const platform = await startTestPlatform("notifier");
  const logs: string[] = [];
  const logger = createLogger({
    service: "notifier",
    level: "debug",
    destination: { write: (line: string) => void logs.push(line) },
  });
  const consumer = startConsumer(
    { ...platform.consumerDeps, logger },
    onPhoneVerificationRequested({
      sql: platform.sql,
      gateway: createSmsGateway(gatewayUrl, { timeoutMs: 2_000 }),
      metrics: createNotifierMetrics(platform.metrics),
      logger,
    }),
    { maxDeliver: 3, baseBackoffMs: 50, maxBackoffMs: 200 },
  );
  cleanups.push(async () => {
    await consumer.stop();
    await platform.close();
  });
  const outcome = async (eventId: string) => {
    const [row] = await platform.sql`select * from sms_messages where event_id = ${eventId}`;
    return row;
  };
  return { ...platform, logs, outcome };
}

async function started(sink: Promise<SmsSink>) {
  const running = await sink;
  cleanups.push(() => running.close());
  return running;
}

let phones = 0;
const verification = (
  expiresInMs = 10 * 60_000,
): EventData<"checkout.phone_verification_requested"> => ({
  verificationId: uuidv7(),
  customerId: "customer-1",
  phone: `+1555${String(Date.now() % 1_000_000).padStart(6, "0")}${++phones}`,
  code: String(100_000 + Math.floor(Math.random() * 900_000)),
  expiresAt: new Date(Date.now() + expiresInMs).toISOString(),
});

describe("the verification SMS", () => {
  it("texts the code to the phone once, and records the event without the phone or the code", async () => {
    const sms = await started(startSmsSink());
    const fx = await startSmsFixture(sms.gatewayUrl);
    const data = verification();

    const event = await fx.publish("checkout.phone_verification_requested", data);

    expect(await sms.waitForCode(data.phone)).toBe(data.code);
    expect(sms.messages).toEqual([
      expect.objectContaining({
        to: data.phone,
        body: `Your codflow code is ${data.code}. It expires in 10 minutes.`,
      }),
    ]);
    await waitFor(async () => (await fx.outcome(event.id))?.status === "sent", {
      what: "the SMS recorded as sent",
    });
    const recorded = JSON.stringify(await fx.sql`select * from sms_messages`);
    expect(recorded).not.toContain(data.phone);
    expect(recorded).not.toContain(data.code);
    expect(await fx.counter("codflow_sms_total", { result: "sent" })).toBe(1);
  });

  it("does not text again when the event comes back, even after its transaction was lost", async () => {
    const sms = await started(startSmsSink());
    const fx = await startSmsFixture(sms.gatewayUrl);
    const data = verification();
    const event = await fx.publish("checkout.phone_verification_requested", data);
    await sms.waitForCode(data.phone);

    await fx.redeliver(event);
    await waitFor(
      async () =>
        (await fx.counter("codflow_consumer_messages_total", {
          consumer: CONSUMER,
          result: "duplicate",
        })) === 1,
      { what: "the redelivery seen as a duplicate" },
    );
    // as if the batch that sent it had rolled back: no inbox row, so the handler runs again
    await fx.sql`delete from inbox where consumer = ${CONSUMER}`;
    await fx.redeliver(event);
    await waitFor(
      async () =>
        (await fx.counter("codflow_consumer_messages_total", {
          consumer: CONSUMER,
          result: "ok",
        })) === 2,
      { what: "the re-run handled" },
    );

    expect(sms.requests()).toBe(1);
    expect(await fx.counter("codflow_sms_total", { result: "sent" })).toBe(1);
  });

  it("retries with back-off while the gateway fails and sends once it accepts", async () => {
    const sms = await started(startSmsSink());
    sms.failNext(2, 503);
    const fx = await startSmsFixture(sms.gatewayUrl);
    const data = verification();

    const event = await fx.publish("checkout.phone_verification_requested", data);

    expect(await sms.waitForCode(data.phone)).toBe(data.code);
    expect(sms.requests()).toBe(3);
    expect(sms.messages).toHaveLength(1);
    await waitFor(async () => (await fx.outcome(event.id))?.status === "sent", {
      what: "the SMS recorded as sent",
    });
    expect(await fx.counter("codflow_sms_total", { result: "retry" })).toBe(2);
    expect(await fx.counter("codflow_sms_total", { result: "sent" })).toBe(1);
  });

  it("dead-letters the event after the last delivery while the gateway refuses connections", async () => {
    const fx = await startSmsFixture(`http://127.0.0.1:${await freePort()}/sms`);
    const data = verification();

    const event = await fx.publish("checkout.phone_verification_requested", data);

    await waitFor(async () => (await fx.outcome(event.id))?.status === "failed", {
      what: "the SMS recorded as failed",
    });
    expect(await fx.counter("codflow_sms_total", { result: "retry" })).toBe(3);
    expect(await fx.counter("codflow_sms_total", { result: "failed" })).toBe(1);
    expect(await fx.counter("codflow_dead_letters_total", { consumer: CONSUMER })).toBe(1);
  });

  it("dead-letters at once a message the gateway refuses as such (4xx)", async () => {
    const sms = await started(startSmsSink());
    sms.failNext(1, 400);
    const fx = await startSmsFixture(sms.gatewayUrl);

    const event = await fx.publish("checkout.phone_verification_requested", verification());

    await waitFor(async () => (await fx.outcome(event.id))?.status === "failed", {
      what: "the SMS recorded as failed",
    });
    expect(sms.requests()).toBe(1);
  });

  it("never sends a code that expired before it could be sent", async () => {
    const sms = await started(startSmsSink());
    const fx = await startSmsFixture(sms.gatewayUrl);

    const event = await fx.publish("checkout.phone_verification_requested", verification(-1_000));

    await waitFor(async () => (await fx.outcome(event.id))?.status === "expired", {
      what: "the SMS recorded as expired",
    });
    expect(sms.requests()).toBe(0);
    expect(await fx.counter("codflow_sms_total", { result: "expired" })).toBe(1);
  });

  it("never writes the phone number or the code to the log, whatever happens to the SMS", async () => {
    const sms = await started(startSmsSink());
    // two, so that a retry is logged even when the first failure only broke a batch
    sms.failNext(2, 503);
    const fx = await startSmsFixture(sms.gatewayUrl);
    const sent = verification();
    const expired = verification(-1_000);
    const refused = verification();

    await fx.publish("checkout.phone_verification_requested", sent);
    await fx.publish("checkout.phone_verification_requested", expired);
    await sms.waitForCode(sent.phone);
    sms.failNext(1, 422);
    const refusedEvent = await fx.publish("checkout.phone_verification_requested", refused);
    await waitFor(async () => (await fx.outcome(refusedEvent.id))?.status === "failed", {
      what: "the refused SMS dead-lettered",
    });

    const log = fx.logs.join("");
    expect(log).toMatch(/will be retried/);
    expect(log).toMatch(/verification code sent/);
    expect(log).toMatch(/verification code expired/);
    expect(log).toMatch(/dead-lettered/);
    for (const { phone, code } of [sent, expired, refused]) {
      expect(log).not.toContain(phone);
      expect(log).not.toContain(code);
      expect(log).not.toContain(phone.slice(1));
    }
  });
});
