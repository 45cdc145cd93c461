import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  afterCommit,
  appendToOutbox,
  inTransaction,
  OUTBOX_CHANNEL,
  onLocalWake,
} from "../src/index.ts";
import { startTestPlatform, type TestPlatform, waitFor } from "../src/testing/index.ts";
import { requestedData } from "./helpers.ts";

let fx: TestPlatform;
beforeAll(async () => {
  fx = await startTestPlatform("shared");
});
afterAll(() => fx.close());

const requested = (correlationId: string) => ({
  type: "checkout.requested" as const,
  data: requestedData(),
  correlationId,
});

/** Records this process's outbox wake-ups and the NOTIFYs any process sends on the channel. */
async function watchOutboxChannel() {
  const local: number[] = [];
  const notified: string[] = [];
  const stopLocal = onLocalWake(OUTBOX_CHANNEL, () => local.push(Date.now()));
  const listener = await fx.sql.listen(OUTBOX_CHANNEL, (payload) => notified.push(payload));
  return {
    local,
    notified,
    async stop() {
      stopLocal();
      await listener.unlisten();
    },
  };
}

describe("after-commit work", () => {
  it("wakes this process's relay after an inTransaction commit, without a NOTIFY, and never on rollback", async () => {
    const watch = await watchOutboxChannel();
    try {
      let wokenBeforeCommit = false;
      await inTransaction(fx.sql, "test.append", async (tx) => {
        await appendToOutbox(tx, fx.namespace, [requested("after-commit-1")]);
        await appendToOutbox(tx, fx.namespace, [requested("after-commit-2")]);
        wokenBeforeCommit = watch.local.length > 0;
      });
      expect(wokenBeforeCommit).toBe(false);
      expect(watch.local).toHaveLength(1); // two appends, one wake-up

      await inTransaction(fx.sql, "test.rollback", async (tx) => {
        await appendToOutbox(tx, fx.namespace, [requested("after-commit-3")]);
        throw new Error("roll back");
      }).catch(() => {});
      expect(watch.local).toHaveLength(1);

      // a transaction inTransaction did not open still wakes every relay, by NOTIFY at commit
      await fx.sql.begin((tx) => appendToOutbox(tx, fx.namespace, [requested("after-commit-4")]));
      await waitFor(() => watch.notified.length === 1, { what: "the NOTIFY of a plain begin" });
      expect(watch.local).toHaveLength(1);
    } finally {
      await watch.stop();
    }
  });

  it("runs queued work with the pool once committed; a failing piece is reported, not thrown", async () => {
    const ran: string[] = [];
    const result = await inTransaction(fx.sql, "test.work", async (tx) => {
      expect(afterCommit(tx, () => void ran.push("first"))).toBe(true);
      afterCommit(tx, () => {
        throw new Error("after-commit failure");
      });
      afterCommit(tx, async (sql) => {
        const [row] = await sql<{ one: number }[]>`select 1 as one`;
        ran.push(`pool ${row?.one}`);
      });
      expect(ran).toEqual([]);
      return "committed";
    });
    expect(result).toBe("committed");
    await waitFor(() => ran.length === 2, { what: "the after-commit work" });
    expect(ran).toEqual(["first", "pool 1"]);
    expect(afterCommit(fx.sql, () => {})).toBe(false);
  });
});
