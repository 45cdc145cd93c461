import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { createGatewayApp, type GatewayDeps } from "./app.ts";
import { createUpstreamProxy } from "./proxy.ts";
import { createUpstreamPools, routeRequest } from "./routes.ts";

export interface RunningGateway {
  url: string;
  port: number;
  /** Stops accepting, lets requests in flight finish for the grace period, then cuts the rest. */
  close(): Promise<void>;
}

/**
 * One node:http server: a path a service owns goes straight to the proxy (no Web Request or
 * Response on the hot path), everything else to the gateway's Hono app.
 */
export function startGateway({ config, logger }: GatewayDeps): Promise<RunningGateway> {
  const pools = createUpstreamPools({
    checkout: config.CHECKOUT_URL,
    inventory: config.INVENTORY_URL,
    orders: config.ORDERS_URL,
  });
  const proxy = createUpstreamProxy({
    pools,
    timeoutMs: config.UPSTREAM_TIMEOUT_MS,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    maxSocketsPerReplica: config.UPSTREAM_MAX_SOCKETS,
    connectBurst: config.UPSTREAM_CONNECT_BURST,
    readinessIntervalMs: config.UPSTREAM_READINESS_INTERVAL_MS,
    ejectionMs: config.UPSTREAM_EJECTION_MS,
    logger,
  });
  const serveApp = getRequestListener(createGatewayApp({ config, logger, pools }).fetch);
  const server = createServer((req, res) => {
    const route = routeRequest(req.url);
    if (route) proxy.forward(req, res, route);
    else void serveApp(req, res);
  });
  return new Promise((resolve, reject) => {
    server.once("error", (error) => {
      proxy.close();
      reject(error);
    });
    server.listen(config.PORT, config.HOST, () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://${config.HOST}:${port}`,
        port,
        close: async () => {
          await closeServer(server, config.SHUTDOWN_GRACE_MS);
          proxy.close();
        },
      });
    });
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
