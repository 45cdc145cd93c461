import { describe, expect, it } from "vitest";
import {
  connectBroker,
  createLogger,
  deleteNamespaceStreams,
  deleteNamespaceStreamsAt,
  ensureStreams,
  STREAM_CONTEXTS,
  streamName,
} from "../src/index.ts";
import { TEST_NATS_URL, uniqueNamespace } from "../src/testing/index.ts";

const logger = createLogger({ service: "namespace-cleanup-test", level: "silent" });

/** The names of the broker's streams that belong to `namespace`. */
async function streamsOf(namespace: string) {
  const broker = await connectBroker({ url: TEST_NATS_URL, namespace, name: "probe", logger });
  try {
    const names: string[] = [];
    for await (const name of broker.jsm.streams.names()) {
      if (STREAM_CONTEXTS.some((c) => streamName(namespace, c) === name)) names.push(name);
    }
    return names.sort();
  } finally {
    await broker.close();
  }
}

describe("deleteNamespaceStreams", () => {
  it("deletes one namespace's streams (their consumers go with them), and leaves another namespace's alone", async () => {
    const [gone, kept] = [uniqueNamespace("cleanup"), uniqueNamespace("cleanup")];
    const brokers = await Promise.all(
      [gone, kept].map((namespace) =>
        connectBroker({ url: TEST_NATS_URL, namespace, name: "cleanup-test", logger }),
      ),
    );
    try {
      for (const broker of brokers) await ensureStreams(broker);
      expect(await streamsOf(gone)).toHaveLength(STREAM_CONTEXTS.length);

      await deleteNamespaceStreamsAt(TEST_NATS_URL, gone);

      expect(await streamsOf(gone)).toEqual([]);
      expect(await streamsOf(kept)).toHaveLength(STREAM_CONTEXTS.length);
      // a second cleanup finds nothing to delete and says nothing
      await deleteNamespaceStreamsAt(TEST_NATS_URL, gone);
    } finally {
      if (brokers[1]) await deleteNamespaceStreams(brokers[1].jsm, kept);
      await Promise.all(brokers.map((b) => b.close()));
    }
    expect(await streamsOf(kept)).toEqual([]);
  });
});
