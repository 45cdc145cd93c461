import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type RunningConsumer, startConsumer, TerminalError } from "@codflow/shared";
import {
  makeEnvelope,
  startTestPlatform,
  type TestPlatform,
  waitFor,
} from "@codflow/shared/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const cli = fileURLToPath(new URL("../codflow.ts", import.meta.url));
const run = promisify(execFile);

let fx: TestPlatform;
let consumer: RunningConsumer;
let broken = true;
const applied: string[] = [];

beforeAll(async () => {
  fx = await startTestPlatform("shared");
  consumer = startConsumer(fx.consumerDeps, {
    name: "cli-test.checkout-failed",
    type: "checkout.failed",
    async handle(event) {
      if (broken && event.data.detail === "poison")
        throw new TerminalError("refused: the handler has a bug");
      applied.push(event.id);
    },
  });
});
afterAll(async () => {
  await consumer.stop();
  await fx.close();
});

const codflow = (...args: string[]) =>
  run(process.execPath, ["--import", "tsx", cli, ...args], {
    env: { ...process.env, NATS_NAMESPACE: fx.namespace },
  });

describe("pnpm codflow dlq", () => {
  it("lists a dead letter with its reason, and replays it once the handler is fixed", async () => {
    const poison = makeEnvelope("checkout.failed", {
      checkoutId: "01a21300-0000-7000-8000-000000000001",
      customerId: "c1",
      customerEmail: null,
      reason: "timed_out",
      detail: "poison",
    });
    await fx.publish("checkout.failed", poison.data, { envelope: poison });
    await waitFor(
      async () =>
        (await fx.broker.jsm.streams.info(`${fx.namespace.toUpperCase()}_DEADLETTER`)).state
          .messages === 1,
      {
        what: "the dead letter",
      },
    );

    const listed = JSON.parse((await codflow("dlq", "list", "--json")).stdout);
    expect(listed.total).toBe(1);
    expect(listed.letters[0]).toMatchObject({
      consumer: "cli-test.checkout-failed",
      eventId: poison.id,
      eventType: "checkout.failed",
      reason: "refused: the handler has a bug",
    });
    const human = (await codflow("dlq", "list")).stdout;
    expect(human).toContain("refused: the handler has a bug");

    broken = false;
    const replayed = await codflow("dlq", "replay", String(listed.letters[0].seq));
    expect(replayed.stdout).toContain(`replayed #${listed.letters[0].seq}`);
    await waitFor(() => applied.includes(poison.id), { what: "the replayed event applied" });
    expect(JSON.parse((await codflow("dlq", "list", "--json")).stdout).total).toBe(0);
  });

  it("refuses a bad command with its usage and exit code 2", async () => {
    await expect(codflow("dlq", "destroy")).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining("usage"),
    });
    await expect(codflow("dlq", "replay", "abc")).rejects.toMatchObject({ code: 2 });
  });
});
