import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createLogger, type Logger } from "@codflow/shared";
import { freePort } from "@codflow/shared/testing";
import { serve } from "@hono/node-server";
import type { Hono } from "hono";
import { loadGatewayConfig } from "../src/config.ts";
import { type RunningGateway, startGateway } from "../src/server.ts";

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

/** A real HTTP server on a free loopback port. */
export function startServer(app: Hono): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, (info) => {
      resolve({
        url: `http://127.0.0.1:${(info as AddressInfo).port}`,
        close: () => closeNow(server as Server),
      });
    });
    server.once("error", reject);
  });
}

function closeNow(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** A URL nothing listens on: a port that was free a moment ago and has been closed again. */
export const unreachableUrl = async () => `http://127.0.0.1:${await freePort()}`;

/**
 * The gateway in this process on a free port, configured like main.ts does from the env. Its
 * readiness probes wait a minute unless `env` says otherwise, so a test counting the requests or
 * connections its upstream sees counts only its own.
 */
export function startTestGateway(
  env: Record<string, string>,
  { logger = createLogger({ service: "gateway-test", level: "silent" }) }: { logger?: Logger } = {},
): Promise<RunningGateway> {
  const config = loadGatewayConfig({
    UPSTREAM_READINESS_INTERVAL_MS: "60000",
    ...env,
    PORT: "0",
    SHUTDOWN_GRACE_MS: "0",
  });
  return startGateway({ config, logger });
}

/** A promise and the function that resolves it, for an upstream that must wait for the test. */
export function gate(): { opened: Promise<void>; open(): void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}
