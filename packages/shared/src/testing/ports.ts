import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** The lowest port handed out by default: above the usual services' own ports. */
const LOWEST = 10_000;

/** Where the kernel's ephemeral ports begin (Linux's setting; 32768 elsewhere). */
export function ephemeralPortStart(): number {
  try {
    const first = Number(
      readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").split(/\s+/)[0],
    );
    return Number.isInteger(first) && first > LOWEST ? first : 32_768;
  } catch {
    return 32_768;
  }
}

/** Listens on `port` (0: one the kernel picks) on loopback and closes again; the port, or undefined. */
function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(undefined));
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        resolve(typeof address === "object" && address ? address.port : undefined),
      );
    });
  });
}

/**
 * A TCP port free right now on loopback, for a process the caller starts next. It comes from
 * below the kernel's ephemeral range: a port from that range (what listening on port 0 gives)
 * can be taken, before the process listens on it, as the local port of any outgoing connection
 * on the machine, and a child then failed with EADDRINUSE (seen in a CI run of the e2e tests).
 * `pick` chooses a candidate in [low, high); tests make it predictable.
 */
export async function freePort(
  pick: (low: number, high: number) => number = (low, high) =>
    low + Math.floor(Math.random() * (high - low)),
): Promise<number> {
  const high = ephemeralPortStart();
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await tryListen(pick(LOWEST, high));
    if (port !== undefined) return port;
  }
  const port = await tryListen(0);
  if (port === undefined) throw new Error("no free port on 127.0.0.1");
  return port;
}
