import { type Agent as HttpAgent, request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { ConnectionRamp } from "./connection-ramp.ts";
import type { UpstreamName, UpstreamPools } from "./routes.ts";

/** One replica of a service: its address parsed once, and whether it should get requests. */
export interface Replica {
  upstream: UpstreamName;
  base: string;
  host: string;
  hostname: string;
  port: number;
  basePath: string;
  secure: boolean;
  request: typeof httpRequest;
  agent: HttpAgent;
  /** How many requests it may take now: see ConnectionRamp. */
  ramp: ConnectionRamp;
  /** What its last readiness probe said; true until a probe says otherwise. */
  ready: boolean;
  /** performance.now() when it last refused a connection, and until when it is skipped for it. */
  ejectedAt: number;
  ejectedUntil: number;
}

/** The replicas of one service, in the order its URL list gives them. */
export class ReplicaSet {
  #next = 0;

  constructor(readonly replicas: readonly Replica[]) {
    // a request's tour of the replicas is a bit mask (see ReplicaTour)
    if (replicas.length > 31) throw new Error("at most 31 replicas per service");
  }

  /**
   * Where the next request's tour begins: the replicas take turns, but one whose connections are
   * all busy (see ConnectionRamp) yields its turn to the next that takes requests and has room, so
   * a replica that fell behind does not keep getting the same share of requests to queue.
   */
  nextStart(now = performance.now()): number {
    const n = this.replicas.length;
    const start = this.#next;
    this.#next = start + 1 === n ? 0 : start + 1;
    for (let step = 0; step < n; step++) {
      const index = (start + step) % n;
      const replica = this.replicas[index] as Replica;
      if (replica.ramp.hasRoom && takesRequests(replica, now)) return index;
    }
    return start;
  }
}

/** A replica takes requests while it is ready and not ejected. */
export const takesRequests = (replica: Replica, now: number) =>
  replica.ready && now >= replica.ejectedUntil;

/**
 * The order in which one request may try the replicas of a service, as plain numbers (no
 * allocation on the hot path): from `start`, first every replica that takes requests, then, as
 * a last resort, those that did not when their turn came (not ready, ejected) — a replica
 * draining still serves, and one the probes have not seen come back may be up. Each replica is
 * tried at most once.
 *
 * @example let tour = startTour(set); const replica = nextReplica(set, tour); tour = tour.tried
 */
export interface ReplicaTour {
  start: number;
  /** Steps taken: 0..n-1 is the first pass, n..2n-1 the last resort. */
  step: number;
  /** Bit i set: replica i was tried. */
  tried: number;
}

/** The next replica of `tour` (advancing it), or undefined when every one has been tried. */
export function nextReplica(set: ReplicaSet, tour: ReplicaTour, now: number): Replica | undefined {
  const { replicas } = set;
  const n = replicas.length;
  while (tour.step < 2 * n) {
    const index = (tour.start + tour.step) % n;
    const firstPass = tour.step < n;
    tour.step++;
    const bit = 1 << index;
    if (tour.tried & bit) continue;
    const replica = replicas[index] as Replica;
    if (firstPass && !takesRequests(replica, now)) continue;
    tour.tried |= bit;
    return replica;
  }
  return undefined;
}

/** A replica whose connection was refused is skipped for `ejectionMs` or until a probe passes. */
export function eject(replica: Replica, now: number, ejectionMs: number): boolean {
  const wasTakingRequests = takesRequests(replica, now);
  replica.ejectedAt = now;
  replica.ejectedUntil = now + ejectionMs;
  return wasTakingRequests;
}

/** One ReplicaSet per service, from the gateway's upstream URL lists. */
export function createReplicaSets(
  pools: UpstreamPools,
  agents: { http: HttpAgent; https: HttpAgent },
  connections: { max: number; burst: number },
): Record<UpstreamName, ReplicaSet> {
  const sets = {} as Record<UpstreamName, ReplicaSet>;
  for (const name of Object.keys(pools) as UpstreamName[]) {
    sets[name] = new ReplicaSet(
      pools[name].urls.map((base) => {
        const url = new URL(base);
        const secure = url.protocol === "https:";
        return {
          upstream: name,
          base,
          host: url.host,
          hostname: url.hostname.replace(/^\[|\]$/g, ""),
          port: Number(url.port) || (secure ? 443 : 80),
          basePath: url.pathname.replace(/\/$/, ""),
          secure,
          request: secure ? httpsRequest : httpRequest,
          agent: secure ? agents.https : agents.http,
          ramp: new ConnectionRamp(connections.max, connections.burst),
          ready: true,
          ejectedAt: Number.NEGATIVE_INFINITY,
          ejectedUntil: 0,
        };
      }),
    );
  }
  return sets;
}
