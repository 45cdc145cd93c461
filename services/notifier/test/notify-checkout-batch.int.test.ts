import {
  type ConsumerSpec,
  contextStream,
  type Envelope,
  type EventData,
  onLocalWake,
  type RunningConsumer,
  startConsumer,
} from "@codflow/shared";
import { makeEnvelope, startTestPlatform, waitFor } from "@codflow/shared/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NOTIFICATIONS_CHANNEL } from "../src/db/notifications.ts";
import { onCheckoutConfirmed } from "../src/index.ts";
import { confirmedData, newCustomerEmail } from "./helpers.ts";

const CONFIRMED = "notifier.checkout-confirmed";
type Confirmed = Envelope<"checkout.confirmed", EventData<"checkout.confirmed">>;

/**
 * A notifier database and namespace whose checkout-confirmed consumer starts only once the
 * events are published, so it takes them as batches; `setBased: false` drops `handleBatch`,
 * the reference a batch must match. No mailer: the queued rows are what is compared.
 */
async function startNotifier({ setBased }: { setBased: boolean }) {
  const platform = await startTestPlatform("notifier");
  /** The sizes of the batches handleBatch was given. */
  const batches: number[] = [];
  const { handleBatch, ...oneByOne } = onCheckoutConfirmed();
  const spec: ConsumerSpec<"checkout.confirmed"> =
    setBased && handleBatch
      ? {
          ...oneByOne,
          handleBatch(events, tx) {
            batches.push(events.length);
            return handleBatch(events, tx);
          },
        }
      : oneByOne;
  let running: RunningConsumer | undefined;
  return {
    ...platform,
    batches,
    /** Publishes `events` (each under a fresh Msg-Id), then runs the consumer until settled. */
    async deliver(events: Confirmed[]) {
      for (const e of events) {
        await platform.publish(e.type, e.data, { envelope: e, msgID: uuidv7() });
      }
      running = startConsumer(platform.consumerDeps, spec, { batchSize: 50, baseBackoffMs: 50 });
      await waitFor(
        async () => {
          const info = await platform.broker.jsm.consumers.info(
            contextStream(platform.namespace, "checkout.confirmed"),
            CONFIRMED.replace(/[^a-zA-Z0-9_-]/g, "_"),
          );
          return info.num_ack_pending === 0 && info.num_pending === 0;
        },
        { what: `${CONFIRMED} settled` },
      );
      await running.stop();
      running = undefined;
    },
    /** The queued emails, without generated ids and times. */
    queued: () => platform.sql`
      select event_id, checkout_id, template, recipient, subject, body_text, status, attempts,
             last_error
      from notifications order by event_id, template`,
    async close() {
      await running?.stop();
      await platform.close();
    },
  };
}

let batched: Awaited<ReturnType<typeof startNotifier>>;
let oneByOne: Awaited<ReturnType<typeof startNotifier>>;
beforeAll(async () => {
  [batched, oneByOne] = await Promise.all([
    startNotifier({ setBased: true }),
    startNotifier({ setBased: false }),
  ]);
});
afterAll(async () => {
  await Promise.all([batched?.close(), oneByOne?.close()]);
});

/**
 * The first message a consumer takes is often handled before the rest of its fetch has been
 * queued: each delivery starts with this one, so the events a test is about go together.
 */
const leading = () => makeEnvelope("checkout.confirmed", confirmedData(newCustomerEmail()));

describe("notifier.checkout-confirmed in set-based batches", () => {
  it("queues a batch exactly as one event at a time would: one email per checkout, skipped without an address, repeats ignored, the mailer woken once", async () => {
    const a = makeEnvelope("checkout.confirmed", confirmedData(newCustomerEmail()));
    const noAddress = makeEnvelope("checkout.confirmed", confirmedData(null));
    const c = makeEnvelope("checkout.confirmed", confirmedData(newCustomerEmail()));
    const cReemitted = makeEnvelope("checkout.confirmed", c.data);
    const events = [leading(), a, noAddress, a, c, cReemitted];
    const wakeUps: string[] = [];
    // the consumer runs in this process: its commit wakes this process's mailer (after-commit.ts)
    const stopListening = onLocalWake(NOTIFICATIONS_CHANNEL, () => {
      wakeUps.push("woken");
    });

    try {
      await batched.deliver(events);
      await oneByOne.deliver(events);

      expect(batched.batches.some((size) => size > 1)).toBe(true);
      const queued = await batched.queued();
      expect(queued).toEqual(await oneByOne.queued());
      expect(queued.map((n) => [n.event_id, n.status])).toEqual(
        [
          [events[0]?.id, "pending"],
          [a.id, "pending"],
          [noAddress.id, "skipped"],
          [c.id, "pending"],
        ].sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
      );
      expect(queued.find((n) => n.event_id === a.id)).toMatchObject({
        recipient: a.data.customerEmail,
        subject: `Your order ${a.data.orderNumber} is confirmed`,
      });
      await waitFor(() => wakeUps.length > 0, { what: "the mailer woken" });
    } finally {
      stopListening();
    }
  });

  it("queues nothing more when a batch's events come again", async () => {
    const events = [
      leading(),
      ...[1, 2, 3].map(() => makeEnvelope("checkout.confirmed", confirmedData(newCustomerEmail()))),
    ];
    await batched.deliver(events);
    const before = await batched.queued();

    await batched.deliver([
      leading(),
      ...events,
      ...events.map((e) => makeEnvelope("checkout.confirmed", e.data)),
    ]);

    const after = await batched.queued();
    expect(after.length).toBe(before.length + 1);
    for (const e of events) {
      expect(after.filter((n) => n.checkout_id === e.data.checkoutId)).toHaveLength(1);
    }
  });

  it("loses none of a batch when one insert in it fails once: the batch falls back and every email is queued once", async () => {
    const victim = makeEnvelope("checkout.confirmed", confirmedData(newCustomerEmail()));
    // A transient failure: the first insert for the victim raises; the sequence survives the
    // rollback, so the retry passes.
    await batched.sql.unsafe(`
      create sequence victim_inserts;
      create function fail_victim_once() returns trigger language plpgsql as $$
      begin
        if new.checkout_id = '${victim.data.checkoutId}' then
          if nextval('victim_inserts') = 1 then
            raise exception 'injected transient failure';
          end if;
        end if;
        return new;
      end $$;
      create trigger fail_victim_once before insert on notifications
        for each row execute function fail_victim_once();`);
    const others = [1, 2, 3].map(() =>
      makeEnvelope("checkout.confirmed", confirmedData(newCustomerEmail())),
    );
    const batchesBefore = batched.batches.length;

    await batched.deliver([leading(), others[0] as Confirmed, victim, ...others.slice(1)]);

    expect(batched.batches.slice(batchesBefore).some((size) => size >= 3)).toBe(true);
    const [attempts] = await batched.sql`select last_value from victim_inserts`;
    expect(Number(attempts?.last_value)).toBeGreaterThan(1);
    const queued = await batched.queued();
    for (const e of [...others, victim]) {
      expect(queued.filter((n) => n.event_id === e.id)).toHaveLength(1);
    }
  });
});
