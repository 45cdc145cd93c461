import { serve } from "@hono/node-server";
import type { Hono } from "hono";
import type { Logger } from "./log.ts";

export type Stop = () => Promise<void>;

/** Serves `app`; the returned stop closes the listener and waits for in-flight requests. */
export async function startHttpServer(
  app: Hono<never> | { fetch: Hono["fetch"] },
  { port, host, logger }: { port: number; host: string; logger: Logger },
): Promise<{ port: number; stop: Stop }> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname: host }, (info) => {
      logger.info({ port: info.port, host }, "http listening");
      resolve({
        port: info.port,
        stop: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            (server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
          }),
      });
    });
    server.once("error", reject);
  });
}

/**
 * On SIGTERM or SIGINT runs `steps` in order (stop HTTP, drain consumers, stop relays, close
 * NATS and Postgres), then exits 0; exits 1 if they take longer than `graceMs`.
 */
export function stopOnSignals(logger: Logger, steps: Stop[], graceMs: number) {
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    const timer = setTimeout(() => {
      logger.error({ graceMs }, "shutdown took too long; exiting");
      process.exit(1);
    }, graceMs);
    timer.unref();
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
