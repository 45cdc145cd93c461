import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { Agent, request } from "node:http";
import { fileURLToPath } from "node:url";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "./log.ts";
import { type RunningHttpServer, startHttpServer } from "./service.ts";
import { waitFor } from "./wait-for.ts";

interface Answer {
  status: number;
  connection: string | undefined;
  body: string;
}

/** One request over `agent`; rejects with the socket's error (e.g. ECONNREFUSED). */
function get(url: string, agent?: Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.once("end", () =>
        resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }),
      );
    });
    req.once("error", reject);
    req.end();
  });
}

const refused = (promise: Promise<unknown>) =>
  promise.then(
    () => false,
    (err: NodeJS.ErrnoException) => err.code === "ECONNREFUSED",
  );

describe("startHttpServer", () => {
  const logger = createLogger({ service: "service-test", level: "silent" });
  const servers: RunningHttpServer[] = [];
  const agents: Agent[] = [];
  afterEach(async () => {
    for (const agent of agents.splice(0)) agent.destroy();
    await Promise.all(servers.splice(0).map((server) => server.stop()));
  });

  async function serve() {
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const state = { held: 0 };
    const app = new Hono();
    app.get("/readyz", (c) => c.json({ status: "ready" }));
    app.get("/ping", (c) => c.text("pong"));
    app.get("/held", async (c) => {
      state.held++;
      await released;
      return c.text("released");
    });
    const server = await startHttpServer(app, { port: 0, host: "127.0.0.1", logger });
    servers.push(server);
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    agents.push(agent);
    return { server, agent, release, state, url: `http://127.0.0.1:${server.port}` };
  }

  it("while draining, fails /readyz and still answers every other request, closing its connection", async () => {
    const { server, agent, url } = await serve();
    expect(await get(`${url}/readyz`, agent)).toMatchObject({ status: 200 });
    expect(await get(`${url}/ping`, agent)).toMatchObject({ connection: "keep-alive" });

    server.drain();

    const readiness = await get(`${url}/readyz`, agent);
    expect(readiness.status).toBe(503);
    expect(JSON.parse(readiness.body)).toEqual({
      status: "not-ready",
      checks: { shutdown: "draining" },
    });
    expect(await get(`${url}/ping`, agent)).toEqual({
      status: 200,
      connection: "close",
      body: "pong",
    });
  });

  it("on stop refuses new connections, answers the request in flight, and closes its kept-alive connection right after", async () => {
    const { server, agent, release, state, url } = await serve();
    const held = get(`${url}/held`, agent);
    await waitFor(() => state.held === 1, { what: "the held request to arrive" });

    let stopped = false;
    const stopping = server.stop().then(() => {
      stopped = true;
    });
    expect(await refused(get(`${url}/ping`))).toBe(true);
    expect(stopped).toBe(false);

    release();
    expect(await held).toMatchObject({ status: 200, body: "released" });
    // Node would keep that connection open for its keep-alive timeout + 1 s, and stop() with it
    await waitFor(() => stopped, { timeoutMs: 500, what: "stop() to resolve" });
    await stopping;
  });
});

const fixture = fileURLToPath(new URL("../test/fixtures/draining-service.ts", import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});

async function startFixture(env: Record<string, string>) {
  const child = spawn(process.execPath, ["--import", "tsx", fixture], {
    env: { ...process.env, SHUTDOWN_GRACE_MS: "5000", SHUTDOWN_DRAIN_DELAY_MS: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  const exited = once(child, "exit").then(([code]) => code as number | null);
  const port = await waitFor(() => /\{"port":(\d+)\}/.exec(output)?.[1], {
    timeoutMs: 20_000,
    what: "the fixture to listen",
  });
  return { child, exited, url: `http://127.0.0.1:${port}`, output: () => output };
}

describe("stopOnSignals", () => {
  it("on SIGTERM fails readiness at once, serves through the drain delay, finishes the request in flight and exits 0", async () => {
    const service = await startFixture({ SHUTDOWN_DRAIN_DELAY_MS: "1500" });
    const inFlight = get(`${service.url}/slow?ms=2500`);
    await waitFor(async () => (await get(`${service.url}/readyz`)).status === 200, {
      what: "the fixture ready",
    });

    service.child.kill("SIGTERM");
    await waitFor(async () => (await get(`${service.url}/readyz`)).status === 503, {
      what: "readiness to fail",
    });
    expect(await get(`${service.url}/ping`)).toMatchObject({ status: 200, body: "pong" });
    await waitFor(() => refused(get(`${service.url}/ping`)), {
      timeoutMs: 5_000,
      what: "the listener to close after the drain delay",
    });

    expect(await inFlight).toMatchObject({ status: 200, body: "slow done" });
    expect(await service.exited).toBe(0);
    expect(service.output()).toMatch(/"msg":"draining: not ready any more/);
  });

  it("ends the drain delay at a second signal", async () => {
    const service = await startFixture({ SHUTDOWN_DRAIN_DELAY_MS: "600000" });
    service.child.kill("SIGTERM");
    await waitFor(async () => (await get(`${service.url}/readyz`)).status === 503, {
      what: "readiness to fail",
    });

    service.child.kill("SIGINT");

    expect(await service.exited).toBe(0);
  });

  it("exits 1 when a shutdown step outlasts the grace period", async () => {
    const service = await startFixture({ STEP_HANGS: "1", SHUTDOWN_GRACE_MS: "300" });

    service.child.kill("SIGTERM");

    expect(await service.exited).toBe(1);
    expect(service.output()).toMatch(/shutdown took too long/);
  });
});
