import type { Broker, StreamContext } from "@codflow/shared";
import fc from "fast-check";
import { expect } from "vitest";
import {
  type AcceptedCheckout,
  makeShoppers,
  persistently,
  placeCheckout,
  type SeededVariant,
  type Shopper,
  seedCatalog,
} from "../../support/burst.ts";
import { checkInvariant } from "../../support/invariants.ts";
import { burstOutcome, waitForQuiescence } from "../../support/quiescence.ts";
import type { BackendName } from "../../support/stack.ts";
import { connectTestBroker, messageAt, republish } from "../../support/streams.ts";
import { type Chaos, explained } from "../harness.ts";
import { freeze } from "./reservation-expiry.ts";

/** The stack for random interleavings: reservations short enough that a frozen orders loses them. */
export const INTERLEAVING_ENV = { RESERVATION_TTL_SECONDS: "2" } as const;

const SHOPPERS = 8;
const VARIANTS = 5;

export type Operation =
  | { op: "checkout"; shopper: number }
  | { op: "addLine"; shopper: number; variant: number; qty: number }
  | { op: "changeLine"; shopper: number; qty: number }
  | { op: "removeLine"; shopper: number }
  | { op: "setStock"; variant: number; onHand: number }
  | { op: "setPrice"; variant: number; priceMinor: number }
  | { op: "archive"; variant: number }
  | { op: "redeliver"; stream: StreamContext; pick: number }
  | { op: "crash"; service: BackendName }
  | { op: "freezeOrders"; ms: number };

const shopper = fc.nat(SHOPPERS - 1);
const variant = fc.nat(VARIANTS - 1);

/** `length`/2 to `length` random operations: checkouts and cart changes the most, faults the least. */
export const operations = ({ length, maxFreezeMs }: { length: number; maxFreezeMs: number }) =>
  fc.array(
    fc.oneof(
      { weight: 6, arbitrary: fc.record({ op: fc.constant("checkout" as const), shopper }) },
      {
        weight: 3,
        arbitrary: fc.record({
          op: fc.constant("addLine" as const),
          shopper,
          variant,
          qty: fc.integer({ min: 1, max: 3 }),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          op: fc.constant("changeLine" as const),
          shopper,
          qty: fc.integer({ min: 1, max: 4 }),
        }),
      },
      { weight: 1, arbitrary: fc.record({ op: fc.constant("removeLine" as const), shopper }) },
      {
        weight: 2,
        arbitrary: fc.record({
          op: fc.constant("setStock" as const),
          variant,
          onHand: fc.integer({ min: 0, max: 30 }),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          op: fc.constant("setPrice" as const),
          variant,
          priceMinor: fc.integer({ min: 100, max: 5_000 }),
        }),
      },
      { weight: 1, arbitrary: fc.record({ op: fc.constant("archive" as const), variant }) },
      {
        weight: 3,
        arbitrary: fc.record({
          op: fc.constant("redeliver" as const),
          stream: fc.constantFrom<StreamContext>("checkout", "inventory", "orders"),
          pick: fc.nat(),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          op: fc.constant("crash" as const),
          service: fc.constantFrom<BackendName>("checkout", "inventory", "orders", "notifier"),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          op: fc.constant("freezeOrders" as const),
          ms: fc.integer({ min: 500, max: maxFreezeMs }),
        }),
      },
    ),
    { minLength: Math.ceil(length / 2), maxLength: length, size: "max" },
  );

/**
 * One run against the real stack: a fresh catalog and shoppers, then `ops` in order. Checkouts
 * are placed in the background (retrying 5xx with their key), so the other operations, faults
 * included, land while they are in flight. Afterwards the system must settle with DESIGN.md's
 * invariant intact. `accepted` and `customers` collect every run's checkouts and shoppers.
 */
export async function runInterleaving(
  chaos: Chaos,
  broker: Broker,
  ops: readonly Operation[],
  { accepted, customers }: { accepted: AcceptedCheckout[]; customers: string[] },
) {
  const { api, admin, stack } = chaos;
  const catalog = await seedCatalog(api, admin, {
    plentiful: 3,
    scarce: VARIANTS - 3,
    plentifulStock: 40,
    scarceStock: 2,
  });
  const variants: SeededVariant[] = [...catalog.plentiful, ...catalog.scarce];
  const shoppers: Shopper[] = await makeShoppers(api, chaos.stack.sms, catalog, SHOPPERS, {
    scarceEvery: 2,
  });
  const deadline = Date.now() + 120_000;
  const call = (request: () => ReturnType<typeof api.get>) => persistently(request, { deadline });
  const inFlight: Promise<void>[] = [];
  const firstLine = async (who: Shopper) =>
    (await call(() => api.get("/v1/cart", { token: who.token }))).body.lines?.[0]?.id as
      | string
      | undefined;

  for (const step of ops) {
    switch (step.op) {
      case "checkout": {
        const who = shoppers[step.shopper] as Shopper;
        inFlight.push(
          placeCheckout(api, who, { deadline, retries: {} }).then((outcome) => {
            if ("accepted" in outcome) accepted.push(outcome.accepted);
          }),
        );
        break;
      }
      case "addLine": {
        const who = shoppers[step.shopper] as Shopper;
        const body = { variantId: (variants[step.variant] as SeededVariant).id, qty: step.qty };
        await call(() => api.post("/v1/cart/lines", { token: who.token, body }));
        break;
      }
      case "changeLine":
      case "removeLine": {
        const who = shoppers[step.shopper] as Shopper;
        const line = await firstLine(who);
        if (!line) break;
        const path = `/v1/cart/lines/${line}`;
        await call(() =>
          step.op === "changeLine"
            ? api.patch(path, { token: who.token, body: { qty: step.qty } })
            : api.delete(path, { token: who.token }),
        );
        break;
      }
      case "setStock": {
        const path = `/v1/admin/catalog/variants/${(variants[step.variant] as SeededVariant).id}/stock`;
        await call(() => api.put(path, { token: admin, body: { onHand: step.onHand } }));
        break;
      }
      case "setPrice": {
        const path = `/v1/admin/catalog/variants/${(variants[step.variant] as SeededVariant).id}`;
        await call(() => api.patch(path, { token: admin, body: { priceMinor: step.priceMinor } }));
        break;
      }
      case "archive": {
        const path = `/v1/admin/catalog/products/${(variants[step.variant] as SeededVariant).productId}`;
        await call(() => api.delete(path, { token: admin }));
        break;
      }
      case "redeliver": {
        const message = await messageAt(broker, step.stream, step.pick);
        if (message) await republish(broker, message);
        break;
      }
      case "crash":
        await stack.kill(step.service, "SIGKILL");
        await stack.start(step.service);
        break;
      case "freezeOrders":
        await freeze(chaos, "orders", step.ms, async () => {});
        break;
    }
  }
  await explained(chaos, Promise.all(inFlight));
  await waitForQuiescence(stack);
  expect(await checkInvariant(stack.databaseUrls)).toEqual([]);
  customers.push(...shoppers.map((s) => s.id));
  const outcome = await burstOutcome(stack, { accepted, customers });
  expect(outcome.violations).toEqual([]);
}

/** `numRuns` random runs (CHAOS_SEED replays one); no shrinking: each run costs real seconds. */
export async function checkRandomInterleavings(
  chaos: Chaos,
  { numRuns, length, maxFreezeMs }: { numRuns: number; length: number; maxFreezeMs: number },
) {
  const broker = await connectTestBroker(chaos.stack.natsUrl, chaos.stack.namespace);
  const seen = { accepted: [] as AcceptedCheckout[], customers: [] as string[] };
  try {
    await fc.assert(
      fc.asyncProperty(operations({ length, maxFreezeMs }), (ops) =>
        runInterleaving(chaos, broker, ops, seen),
      ),
      {
        numRuns,
        endOnFailure: true,
        ...(process.env.CHAOS_SEED ? { seed: Number(process.env.CHAOS_SEED) } : {}),
      },
    );
  } finally {
    await broker.close();
  }
  return seen.accepted.length;
}
