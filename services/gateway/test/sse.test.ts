import { setTimeout as delay } from "node:timers/promises";
import { waitFor } from "@codflow/shared/testing";
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningGateway } from "../src/server.ts";
import { gate, type RunningServer, startServer, startTestGateway } from "./helpers.ts";

const TIMEOUT_MS = 300;

describe("gateway SSE passthrough", () => {
  const firstSeen = gate();
  const timeoutPassed = gate();
  let upstreamSawDisconnect = false;
  let upstream: RunningServer;
  let gateway: RunningGateway;

  beforeAll(async () => {
    const app = new Hono();
    app.get("/v1/checkouts/:id/events", (c) =>
      streamSSE(c, async (stream) => {
        await stream.writeSSE({ event: "status", data: '{"status":"processing"}' });
        await firstSeen.opened;
        await timeoutPassed.opened;
        await stream.writeSSE({ event: "status", data: '{"status":"confirmed"}' });
      }),
    );
    app.get("/v1/checkouts/:id/forever", (c) =>
      streamSSE(c, async (stream) => {
        stream.onAbort(() => {
          upstreamSawDisconnect = true;
        });
        await stream.writeSSE({ event: "status", data: '{"status":"processing"}' });
        while (!stream.aborted) await stream.sleep(20);
      }),
    );
    upstream = await startServer(app);
    gateway = await startTestGateway({
      CHECKOUT_URL: upstream.url,
      UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS),
    });
  });

  afterAll(async () => {
    firstSeen.open();
    timeoutPassed.open();
    await gateway?.close();
    await upstream?.close();
  });

  it("streams each event as it comes, unbuffered, and outlives the upstream timeout", async () => {
    const res = await fetch(`${gateway.url}/v1/checkouts/c1/events`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = res.body?.pipeThrough(new TextDecoderStream()).getReader();
    if (!reader) throw new Error("no body");

    let received = "";
    const readUntil = async (needle: string) => {
      while (!received.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${needle}; got ${received}`);
        received += value;
      }
    };

    // The upstream holds the second event until the first has arrived here: a buffering proxy
    // would never deliver it, and this read would hang until the test's deadline.
    await readUntil('"processing"');
    expect(received).not.toContain('"confirmed"');
    firstSeen.open();

    // Time must pass here, not a condition: the claim is that the timeout does not cut a stream.
    await delay(TIMEOUT_MS * 2);
    timeoutPassed.open();

    await readUntil('"confirmed"');
    const { done } = await reader.read();
    expect(done).toBe(true);
    expect(received).toBe(
      'event: status\ndata: {"status":"processing"}\n\nevent: status\ndata: {"status":"confirmed"}\n\n',
    );
  });

  it("closes the upstream stream when the client goes away", async () => {
    const client = new AbortController();
    const res = await fetch(`${gateway.url}/v1/checkouts/c2/forever`, { signal: client.signal });
    const reader = res.body?.getReader();
    await reader?.read();
    client.abort();
    await waitFor(() => upstreamSawDisconnect, { what: "the upstream to see the disconnect" });
  });
});
