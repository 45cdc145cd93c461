import { waitFor } from "@codflow/shared/testing";
import { afterAll, beforeAll, expect } from "vitest";
import { type ApiClient, adminToken, apiClient } from "../../scripts/lib/api.ts";
import { type MailSink, startMailSink } from "../../scripts/lib/mail-sink.ts";
import type { BurstResult, Shopper } from "../support/burst.ts";
import { checkInvariant } from "../support/invariants.ts";
import { startPrivateNats } from "../support/private-servers.ts";
import { burstOutcome, waitForQuiescence } from "../support/quiescence.ts";
import { type Stack, type StackOptions, startStack } from "../support/stack.ts";

/**
 * Settings that make recovery fast enough to test: a lost ack is redelivered after 2 s, a
 * crashed relay's claim expires after 2 s, a stalled checkout is re-driven after 3 s.
 */
export const FAST_RECOVERY = {
  CONSUMER_ACK_WAIT_MS: "2000",
  CONSUMER_BACKOFF_BASE_MS: "200",
  OUTBOX_LEASE_SECONDS: "2",
  STREAM_WATCH_INTERVAL_MS: "500",
  CHECKOUT_REDRIVE_AFTER_SECONDS: "3",
  CHECKOUT_DEADLINE_SECONDS: "60",
} as const;

/** A whole number from the environment (CHAOS_CHECKOUTS, CHAOS_ITERATIONS), else `fallback`. */
export function fromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

export interface Chaos {
  stack: Stack;
  api: ApiClient;
  admin: string;
  mail: MailSink;
  close(): Promise<void>;
}

/**
 * The harness on a nats-server of the file's (or describe block's) own, which a test may
 * restart or wipe: registers its start and its close as beforeAll/afterAll hooks.
 *
 * @example const rig = chaosOnPrivateNats(); … strike: () => rig.nats.restart()
 */
export function chaosOnPrivateNats() {
  let nats: Awaited<ReturnType<typeof startPrivateNats>> | undefined;
  let chaos: Chaos | undefined;
  beforeAll(async () => {
    nats = await startPrivateNats();
    chaos = await startChaos({ natsUrl: nats.url });
  }, 120_000);
  afterAll(async () => {
    await chaos?.close();
    await nats?.close();
  });
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not started yet (use it inside a test)`);
    return value;
  };
  return {
    get chaos() {
      return started(chaos, "the chaos harness");
    },
    get nats() {
      return started(nats, "the private nats-server");
    },
  };
}

/** The real stack with fast recovery settings, a mail sink of its own and an admin token. */
export async function startChaos({ env = {}, ...options }: StackOptions = {}): Promise<Chaos> {
  const mail = await startMailSink({ smtpPort: 0, httpPort: 0 });
  const stack = await startStack({
    ...options,
    env: { ...FAST_RECOVERY, SMTP_URL: `smtp://127.0.0.1:${mail.smtpPort}`, ...env },
  }).catch(async (err) => {
    await mail.close();
    throw err;
  });
  return {
    stack,
    api: apiClient(stack.gatewayUrl),
    admin: await adminToken(),
    mail,
    close: async () => {
      await stack.stop();
      await mail.close();
    },
  };
}

/**
 * `work`, failing at once when a service dies by itself meanwhile (a storefront retrying against
 * a dead service would only give up much later, and say less).
 */
export async function explained<T>(chaos: Chaos, work: Promise<T>): Promise<T> {
  let watch: NodeJS.Timeout | undefined;
  const death = new Promise<never>((_, reject) => {
    watch = setInterval(() => {
      const died = chaos.stack.unexpectedExits();
      if (died.length > 0) reject(new Error(`${died.join("; ")} (logs in ${chaos.stack.logDir})`));
    }, 250);
  });
  try {
    return await Promise.race([work, death]);
  } finally {
    clearInterval(watch);
  }
}

/**
 * The outcome every chaos test demands once the system is quiet: DESIGN.md's invariant holds
 * across the four databases, every accepted checkout is terminal and none was made twice, no
 * request ended in a refusal, nothing was dead-lettered, and each shopper got exactly one
 * email. Returns how the checkouts ended.
 */
export async function expectSettled(
  chaos: Chaos,
  burst: BurstResult,
  { shoppers, timeoutMs = 60_000 }: { shoppers: readonly Shopper[]; timeoutMs?: number },
) {
  const { deadLetters } = await waitForQuiescence(chaos.stack, { timeoutMs });
  // Some healing is timer-driven (the re-driver, the stream watch after a broker rebuilt empty,
  // backing off while NATS was away), so a quiet moment can precede it: the invariant must hold
  // within a bounded time, and the violations of the last look are what the test reports.
  let violations: string[] = [];
  await waitFor(
    async () => {
      violations = await checkInvariant(chaos.stack.databaseUrls);
      return violations.length === 0;
    },
    { timeoutMs: 30_000, intervalMs: 250, what: "the invariant" },
  ).catch(() => undefined);
  expect(violations).toEqual([]);
  const outcome = await burstOutcome(chaos.stack, {
    accepted: burst.accepted,
    customers: shoppers.map((s) => s.id),
  });
  expect(outcome.violations).toEqual([]);
  expect(outcome.byStatus.processing ?? 0).toBe(0);
  expect(burst.refused.map((r) => `${r.shopper.email}: ${r.status} ${r.type}`)).toEqual([]);
  expect(deadLetters).toBe(0);
  const mails = new Map<string, number>();
  for (const m of chaos.mail.messages)
    for (const to of m.to) mails.set(to, (mails.get(to) ?? 0) + 1);
  const wrong = shoppers
    .map((s) => ({ email: s.email, mails: mails.get(s.email) ?? 0 }))
    .filter((s) => s.mails !== 1);
  expect(wrong).toEqual([]);
  return outcome;
}
