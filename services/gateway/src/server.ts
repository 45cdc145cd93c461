import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createGatewayApp, type GatewayDeps } from "./app.ts";

export interface RunningGateway {
  url: string;
  port: number;
  /** Stops accepting, lets requests in flight finish for the grace period, then cuts the rest. */
  close(): Promise<void>;
}

export function startGateway(deps: GatewayDeps): Promise<RunningGateway> {
  const { config } = deps;
  const app = createGatewayApp(deps);
  return new Promise((resolve, reject) => {
    const server = serve(
      { fetch: app.fetch, hostname: config.HOST, port: config.PORT },
      (info: AddressInfo) => {
        resolve({
          url: `http://${config.HOST}:${info.port}`,
          port: info.port,
          close: () => closeServer(server as Server, config.SHUTDOWN_GRACE_MS),
        });
      },
    );
    server.once("error", reject);
  });
}

function closeServer(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}
