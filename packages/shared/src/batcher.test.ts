import { describe, expect, it } from "vitest";
import { Batcher } from "./batcher.ts";

/** A batcher whose batches the test completes by hand, recording what each one held. */
function manualBatcher(options: {
  concurrency: number;
  maxSize: number;
  keyOf?: (item: string) => string;
}) {
  const batches: { items: string[]; finish(): void; fail(err: Error): void }[] = [];
  const batcher = new Batcher<string, string>(
    (items) =>
      new Promise((resolve, reject) => {
        batches.push({
          items,
          finish: () =>
            resolve(
              items.map((item) => ({ status: "fulfilled" as const, value: item.toUpperCase() })),
            ),
          fail: reject,
        });
      }),
    options,
  );
  return { batcher, batches };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe("Batcher", () => {
  it("sends the calls of one event-loop turn as one batch, and answers each with its own result", async () => {
    const { batcher, batches } = manualBatcher({ concurrency: 4, maxSize: 10 });
    const answers = Promise.all(["a", "b", "c"].map((item) => batcher.add(item)));
    await turn();
    expect(batches.map((b) => b.items)).toEqual([["a", "b", "c"]]);
    batches[0]?.finish();
    expect(await answers).toEqual(["A", "B", "C"]);
  });

  it("queues calls while `concurrency` batches are in flight, then sends them together", async () => {
    const { batcher, batches } = manualBatcher({ concurrency: 1, maxSize: 10 });
    const first = batcher.add("a");
    await turn();
    const later = ["b", "c", "d"].map((item) => batcher.add(item));
    await turn();
    expect(batcher.queued).toBe(3);
    batches[0]?.finish();
    await first;
    await turn();
    expect(batches.map((b) => b.items)).toEqual([["a"], ["b", "c", "d"]]);
    batches[1]?.finish();
    expect(await Promise.all(later)).toEqual(["B", "C", "D"]);
  });

  it("never puts two calls with one key, or more than `maxSize` calls, in one batch", async () => {
    const { batcher, batches } = manualBatcher({
      concurrency: 10,
      maxSize: 2,
      keyOf: (item) => item[0] as string,
    });
    for (const item of ["x1", "x2", "y1", "z1", "x3"]) void batcher.add(item);
    await turn();
    expect(batches.map((b) => b.items)).toEqual([["x1", "y1"], ["x2", "z1"], ["x3"]]);
  });

  it("rejects every call of a batch that failed as a whole, and goes on with the next", async () => {
    const { batcher, batches } = manualBatcher({ concurrency: 1, maxSize: 10 });
    const failed = [batcher.add("a"), batcher.add("b")].map((p) =>
      p.catch((err: Error) => err.message),
    );
    await turn();
    const next = batcher.add("c");
    batches[0]?.fail(new Error("connection lost"));
    expect(await Promise.all(failed)).toEqual(["connection lost", "connection lost"]);
    await turn();
    batches[1]?.finish();
    expect(await next).toBe("C");
  });

  it("rejects a call whose batch settled another call's result but not its own", async () => {
    const batcher = new Batcher<string, string>(
      async () => [{ status: "rejected", reason: new Error("refused") }],
      { concurrency: 1, maxSize: 10 },
    );
    const results = await Promise.allSettled([batcher.add("a"), batcher.add("b")]);
    expect(results.map((r) => (r.status === "rejected" ? String(r.reason) : r.value))).toEqual([
      "Error: refused",
      "Error: batch settled 1 of 2",
    ]);
  });
});
