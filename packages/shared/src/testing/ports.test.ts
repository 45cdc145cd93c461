import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ephemeralPortStart, freePort } from "./ports.ts";

const held: Server[] = [];
afterEach(async () => {
  await Promise.all(held.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** Holds `port` (0: any) on loopback until the test ends; the port held. */
async function hold(port = 0): Promise<number> {
  const server = createServer();
  held.push(server);
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

describe("a free port for a process to listen on", () => {
  it("comes from below the kernel's ephemeral range, where outgoing connections take theirs", async () => {
    const start = ephemeralPortStart();
    for (let i = 0; i < 20; i++) {
      const port = await freePort();
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port).toBeLessThan(start);
    }
  });

  it("skips a candidate something already listens on", async () => {
    const taken = await hold();
    const candidates = [taken, taken + 1 === ephemeralPortStart() ? taken - 1 : taken + 1];
    const port = await freePort(() => candidates.shift() ?? 0);
    expect(port).not.toBe(taken);
    expect(await hold(port)).toBe(port);
  });
});
