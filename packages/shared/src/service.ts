import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import type { Hono } from "hono";
import type { Logger } from "./log.ts";

export type Stop = () => Promise<void>;

export interface RunningHttpServer {
  port: number;
  /**
   * Starts draining: `/readyz` answers 503 from now on (a load balancer takes this replica out
   * of rotation) while every other request is still served, each answer with
   * `Connection: close`, so the keep-alive connections to this replica retire one by one
   * instead of being cut under a request.
   */
  drain(): void;
  /**
   * Drains, stops accepting connections, closes the idle ones, and resolves once every request
   * in flight has been answered and its connection closed.
   */
  stop: Stop;
}

const IDLE_SWEEP_MS = 50;
const DRAINING_BODY = JSON.stringify({ status: "not-ready", checks: { shutdown: "draining" } });

/** Serves `app` on node:http; see RunningHttpServer for how it drains and stops. */
export async function startHttpServer(
  app: Hono<never> | { fetch: Hono["fetch"] },
  { port, host, logger }: { port: number; host: string; logger: Logger },
): Promise<RunningHttpServer> {
  const serveApp = getRequestListener(app.fetch, { hostname: host });
  let draining = false;
  const server = createServer((req, res) => {
    if (draining) {
      res.shouldKeepAlive = false;
      if (req.url === "/readyz") {
        res.writeHead(503, {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(DRAINING_BODY),
        });
        res.end(DRAINING_BODY);
        return;
      }
    }
    void serveApp(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const listening = (server.address() as AddressInfo).port;
  logger.info({ port: listening, host }, "http listening");
  const drain = () => {
    draining = true;
  };
  return {
    port: listening,
    drain,
    stop: () =>
      new Promise<void>((done) => {
        drain();
        // A request already in flight when draining began keeps its connection alive: once
        // answered, it would idle for keepAliveTimeout + 1 s before Node closes it, and close()
        // waits for it. Idle connections are closed as they appear instead.
        const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
        server.close(() => {
          clearInterval(sweep);
          done();
        });
        server.closeIdleConnections();
      }),
  };
}

export interface ShutdownOptions {
  /** The steps, from the end of the drain delay, before the process gives up and exits 1. */
  graceMs: number;
  /**
   * How long to keep serving after the signal with readiness failing (`drain` runs first), so a
   * load balancer stops sending requests before the listener closes; a second signal cuts it
   * short.
   */
  drainDelayMs?: number;
  drain?: () => void;
}

/**
 * On SIGTERM or SIGINT: `drain()`, the drain delay, then `steps` in order (end long-lived
 * answers, stop HTTP, drain consumers, stop relays, close NATS and Postgres), then exit 0; exit 1
 * if the steps take longer than `graceMs`. All of it lasts at most `drainDelayMs + graceMs`,
 * which an orchestrator's termination grace period must exceed.
 */
export function stopOnSignals(
  logger: Logger,
  steps: Stop[],
  { graceMs, drainDelayMs = 0, drain }: ShutdownOptions,
) {
  let stopping = false;
  let endDrainDelay: (() => void) | undefined;
  const shutdown = async (signal: string) => {
    if (stopping) {
      endDrainDelay?.();
      return;
    }
    stopping = true;
    drain?.();
    if (drainDelayMs > 0) {
      logger.info(
        { signal, drainDelayMs },
        "draining: not ready any more, still serving until the delay ends",
      );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, drainDelayMs);
        endDrainDelay = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      endDrainDelay = undefined;
    }
    logger.info({ signal }, "shutting down");
    // not unref'd: a step stuck on a promise nothing will settle must end in exit 1, not 0
    setTimeout(() => {
      logger.error({ graceMs }, "shutdown took too long; exiting");
      process.exit(1);
    }, graceMs);
    for (const step of steps) {
      try {
        await step();
      } catch (err) {
        logger.error({ err }, "shutdown step failed");
      }
    }
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}
