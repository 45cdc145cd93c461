import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { createLogger, startHttpServer } from "@codflow/shared";
import { waitFor } from "@codflow/shared/testing";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import type { RunningGateway } from "../src/server.ts";
import { startTestGateway, unreachableUrl } from "./helpers.ts";

interface Received {
  method: string;
  path: string;
  body: string;
}

/**
 * A replica on node:http that records what it receives. `resetReused`: it answers the first
 * request of each connection and resets the connection under any later one once its body has
 * arrived, as a replica that closes an idle keep-alive connection just as the gateway sends a
 * request on it. `ready` is what its /readyz says.
 */
async function replica({ port = 0, resetReused = false } = {}) {
  const received: Received[] = [];
  const connections = new WeakSet<Socket>();
  const state = { ready: true, resets: 0, probes: 0 };
  const server: Server = createServer((req, res) => {
    const reused = connections.has(req.socket);
    connections.add(req.socket);
    void readBody(req).then((body) => {
      if (resetReused && reused) {
        state.resets++;
        req.socket.destroy();
        return;
      }
      if (req.url === "/readyz") {
        state.probes++;
        res.writeHead(state.ready ? 200 : 503).end();
        return;
      }
      received.push({ method: req.method ?? "", path: req.url ?? "", body });
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ port: (server.address() as AddressInfo).port, body }));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  open.push(() => closeNow(server));
  return { url, received, state, close: () => closeNow(server) };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.once("end", () => resolve(Buffer.concat(chunks).toString()));
    req.once("error", reject);
  });
}

function closeNow(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

const open: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((close) => close()));
});

async function gatewayTo(ordersUrls: string[], env: Record<string, string> = {}) {
  const gateway = await startTestGateway({ ORDERS_URL: ordersUrls.join(","), ...env });
  open.push(() => gateway.close());
  return gateway;
}

const post = (
  gateway: RunningGateway,
  body: string,
  headers: Record<string, string> = {},
  path = "/v1/orders/o1/cancel",
) =>
  fetch(`${gateway.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });

describe("gateway resending a request to another replica", () => {
  it("sends a POST with a body and no Idempotency-Key on when a replica refuses the connection", async () => {
    const alive = await replica();
    const gateway = await gatewayTo([await unreachableUrl(), alive.url]);

    const res = await post(gateway, '{"reason":"changed my mind"}');

    expect(res.status).toBe(200);
    expect(alive.received).toEqual([
      { method: "POST", path: "/v1/orders/o1/cancel", body: '{"reason":"changed my mind"}' },
    ]);
  });

  it("resends a POST with an Idempotency-Key, body and all, when a reused connection is reset before any answer", async () => {
    const resetting = await replica({ resetReused: true });
    const alive = await replica();
    const gateway = await gatewayTo([resetting.url, alive.url]);
    // the first request opens a connection to `resetting`, the second goes to `alive`: the
    // third finds that connection idle in the pool and is reset on it
    for (let i = 0; i < 2; i++) expect((await post(gateway, `{"n":${i}}`)).status).toBe(200);

    const res = await post(gateway, '{"n":2}', { "idempotency-key": "key-2" });

    expect(res.status).toBe(200);
    expect(resetting.state.resets).toBe(1);
    expect(alive.received.map((r) => r.body)).toEqual(['{"n":1}', '{"n":2}']);
  });

  it("resends a GET when a reused connection is reset before any answer", async () => {
    const resetting = await replica({ resetReused: true });
    const alive = await replica();
    const gateway = await gatewayTo([resetting.url, alive.url]);
    for (let i = 0; i < 2; i++) expect((await fetch(`${gateway.url}/v1/orders`)).status).toBe(200);

    const res = await fetch(`${gateway.url}/v1/orders`);

    expect(res.status).toBe(200);
    expect(resetting.state.resets).toBe(1);
    expect(alive.received).toHaveLength(2);
  });

  it("answers 502 and does not resend a POST without an Idempotency-Key whose connection was reset: it may have been applied", async () => {
    const resetting = await replica({ resetReused: true });
    const alive = await replica();
    const gateway = await gatewayTo([resetting.url, alive.url]);
    for (let i = 0; i < 2; i++) expect((await post(gateway, `{"n":${i}}`)).status).toBe(200);

    const res = await post(gateway, '{"n":2}');

    expect(res.status).toBe(502);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(resetting.state.resets).toBe(1);
    expect(alive.received.map((r) => r.body)).toEqual(['{"n":1}']);
  });

  it("does not resend a body over 64 KiB it no longer holds: 502 after a reset", async () => {
    const resetting = await replica({ resetReused: true });
    const alive = await replica();
    const gateway = await gatewayTo([resetting.url, alive.url]);
    for (let i = 0; i < 2; i++) expect((await post(gateway, `{"n":${i}}`)).status).toBe(200);

    const res = await post(gateway, JSON.stringify({ pad: "x".repeat(70 * 1024) }), {
      "idempotency-key": "key-big",
    });

    expect(res.status).toBe(502);
    expect(resetting.state.resets).toBe(1);
    expect(alive.received.map((r) => r.body)).toEqual(['{"n":1}']);
  });
});

describe("gateway rotation", () => {
  it("skips a replica that refused a connection for UPSTREAM_EJECTION_MS, then tries it again", async () => {
    const refusingUrl = await unreachableUrl();
    const alive = await replica();
    const gateway = await gatewayTo([refusingUrl, alive.url], { UPSTREAM_EJECTION_MS: "300" });
    expect((await fetch(`${gateway.url}/v1/orders`)).status).toBe(200);

    // the replica comes up on the same port while it is ejected
    const back = await replica({ port: Number(new URL(refusingUrl).port) });
    for (let i = 0; i < 4; i++) expect((await fetch(`${gateway.url}/v1/orders`)).status).toBe(200);
    expect(back.received).toEqual([]);
    expect(alive.received).toHaveLength(5);

    await waitFor(
      async () => {
        expect((await fetch(`${gateway.url}/v1/orders`)).status).toBe(200);
        return back.received.length > 0;
      },
      { what: "the ejected replica to get requests again" },
    );
  });

  it("takes a replica whose /readyz fails out of rotation, and puts it back once it passes", async () => {
    const a = await replica();
    const b = await replica();
    const gateway = await gatewayTo([a.url, b.url], { UPSTREAM_READINESS_INTERVAL_MS: "100" });
    const sendFour = async () => {
      const before = a.received.length;
      for (let i = 0; i < 4; i++)
        expect((await fetch(`${gateway.url}/v1/orders`)).status).toBe(200);
      return a.received.length - before;
    };
    expect(await sendFour()).toBe(2);

    a.state.ready = false;
    await waitFor(async () => (await sendFour()) === 0, { what: "a out of rotation" });
    expect(await sendFour()).toBe(0);

    a.state.ready = true;
    await waitFor(async () => (await sendFour()) === 2, { what: "a back in rotation" });
  });

  it("still sends requests when every replica is out of rotation", async () => {
    const a = await replica();
    const b = await replica();
    a.state.ready = false;
    b.state.ready = false;
    const gateway = await gatewayTo([a.url, b.url], { UPSTREAM_READINESS_INTERVAL_MS: "100" });
    await waitFor(() => a.state.probes > 0 && b.state.probes > 0, { what: "both probed" });

    for (let i = 0; i < 2; i++) expect((await fetch(`${gateway.url}/v1/orders`)).status).toBe(200);
    expect(a.received).toHaveLength(1);
    expect(b.received).toHaveLength(1);
  });
});

describe("gateway in front of a replica that drains and stops", () => {
  it("loses no request, not even a POST it may not resend, while a replica drains, stops and comes back", async () => {
    const logger = createLogger({ service: "drain-test", level: "silent" });
    const app = (name: string) => {
      const hono = new Hono();
      hono.get("/readyz", (c) => c.json({ status: "ready" }));
      hono.post("/v1/orders/o1/cancel", (c) => c.json({ name }));
      return hono;
    };
    const start = (name: string, port = 0) =>
      startHttpServer(app(name), { port, host: "127.0.0.1", logger });
    const stable = await start("stable");
    let leaving = await start("leaving");
    const leavingPort = leaving.port;
    open.push(() => stable.stop());
    const gateway = await gatewayTo(
      [`http://127.0.0.1:${leavingPort}`, `http://127.0.0.1:${stable.port}`],
      { UPSTREAM_READINESS_INTERVAL_MS: "100" },
    );

    let running = true;
    const answers: { status: number; name: string }[] = [];
    const load = (async () => {
      while (running) {
        const batch = await Promise.all(Array.from({ length: 4 }, () => post(gateway, "{}")));
        for (const res of batch) {
          const body = (await res.json()) as { name?: string };
          answers.push({ status: res.status, name: body.name ?? "" });
        }
      }
    })();
    const answeredBy = (name: string, from: number) =>
      answers.slice(from).filter((answer) => answer.name === name).length;

    await waitFor(() => answeredBy("leaving", 0) >= 10, { what: "leaving to take requests" });
    leaving.drain();
    // as stopOnSignals does: keep serving through the drain delay (until the gateway's probe
    // has taken the replica out of rotation), then stop
    const drainedAt = answers.length;
    await waitFor(
      () => answers.length >= drainedAt + 40 && answeredBy("leaving", answers.length - 20) === 0,
      { what: "the gateway to stop sending to the draining replica" },
    );
    await leaving.stop();
    const stoppedAt = answers.length;
    await waitFor(() => answers.length >= stoppedAt + 40, { what: "load with one replica" });
    leaving = await start("back", leavingPort);
    open.push(() => leaving.stop());
    const cameBack = answers.length;
    await waitFor(() => answeredBy("back", cameBack) >= 10, {
      what: "the new replica in rotation",
    });
    running = false;
    await load;

    expect(answers.filter((answer) => answer.status !== 200)).toEqual([]);
    expect(answeredBy("leaving", drainedAt)).toBeGreaterThan(0);
  });
});
