import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { Logger } from "@codflow/shared";
import { describeError } from "./errors.ts";
import type { Replica } from "./replicas.ts";

export interface ReadinessProbes {
  stop(): void;
}

/**
 * Asks every replica for `GET /readyz` every `intervalMs`, as Kubernetes' readiness probe feeds
 * a Service's endpoints: a 2xx puts the replica in rotation (and ends an ejection that began
 * before the probe was sent), anything else takes it out — a 503 while it drains before a
 * shutdown, a refused connection, no answer within `timeoutMs`. Replicas count as ready until
 * their first probe, one interval after the start. Probes of one replica never overlap.
 */
export function startReadinessProbes({
  replicas,
  intervalMs,
  timeoutMs,
  logger,
}: {
  replicas: readonly Replica[];
  intervalMs: number;
  timeoutMs: number;
  logger: Logger;
}): ReadinessProbes {
  // one connection per replica, kept alive between probes, apart from the proxied traffic's
  const agents = {
    http: new HttpAgent({ keepAlive: true, maxSockets: 1 }),
    https: new HttpsAgent({ keepAlive: true, maxSockets: 1 }),
  };
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;

  const record = (replica: Replica, ready: boolean, reason: string, startedAt: number) => {
    if (ready && replica.ejectedAt < startedAt) replica.ejectedUntil = 0;
    if (replica.ready === ready) return;
    replica.ready = ready;
    const fields = { upstream: replica.upstream, replica: replica.base };
    if (ready) logger.info(fields, "replica ready: back in rotation");
    else logger.warn({ ...fields, reason }, "replica not ready: out of rotation");
  };

  const probe = (replica: Replica) => {
    const startedAt = performance.now();
    let settled = false;
    const settle = (ready: boolean, reason: string) => {
      if (settled) return;
      settled = true;
      record(replica, ready, reason, startedAt);
      schedule(replica);
    };
    const req = replica.request(
      {
        hostname: replica.hostname,
        port: replica.port,
        path: `${replica.basePath}/readyz`,
        agent: replica.secure ? agents.https : agents.http,
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        settle(status >= 200 && status < 300, `/readyz answered ${status}`);
      },
    );
    req.once("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (error) => settle(false, describeError(error)));
    req.end();
  };

  const schedule = (replica: Replica) => {
    if (stopped) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      probe(replica);
    }, intervalMs);
    timer.unref();
    timers.add(timer);
  };

  for (const replica of replicas) schedule(replica);
  return {
    stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
