import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { ConnectionRamp } from "./connection-ramp.ts";

const socket = () => new EventEmitter() as unknown as Socket;

/** `n` requests entering `ramp`, each recording when it is sent. */
function enterMany(ramp: ConnectionRamp, n: number) {
  const sent: number[] = [];
  const stops = Array.from({ length: n }, (_, i) => ramp.enter(() => sent.push(i)));
  return { sent, stops };
}

describe("ConnectionRamp", () => {
  it("sends `burst` requests while no connection has answered, and queues the rest", () => {
    const ramp = new ConnectionRamp(100, 3);
    const { sent } = enterMany(ramp, 5);
    expect(sent).toEqual([0, 1, 2]);
    expect(ramp.waiting).toBe(2);
  });

  it("lets one more connection open per connection that answered, first come first served", () => {
    const ramp = new ConnectionRamp(100, 2);
    const { sent } = enterMany(ramp, 6);
    ramp.answered(socket());
    expect(sent).toEqual([0, 1, 2]);
    ramp.answered(socket());
    expect(sent).toEqual([0, 1, 2, 3]);
    ramp.leave(); // a request ended: its connection is free for the next one
    expect(sent).toEqual([0, 1, 2, 3, 4]);
  });

  it("counts a connection that answered twice once", () => {
    const ramp = new ConnectionRamp(100, 1);
    const proven = socket();
    const { sent } = enterMany(ramp, 4);
    ramp.answered(proven);
    ramp.answered(proven);
    expect(sent).toEqual([0, 1]);
  });

  it("never goes past `max`, and shrinks when a connection that answered closes", () => {
    const ramp = new ConnectionRamp(3, 2);
    const sockets = [socket(), socket(), socket()];
    for (const s of sockets) ramp.answered(s);
    expect(ramp.limit).toBe(3);
    (sockets[0] as unknown as EventEmitter).emit("close");
    (sockets[1] as unknown as EventEmitter).emit("close");
    expect(ramp.limit).toBe(3);
    (sockets[2] as unknown as EventEmitter).emit("close");
    expect(ramp.limit).toBe(2);
  });

  it("forgets a request that gave up waiting", () => {
    const ramp = new ConnectionRamp(100, 1);
    const { sent, stops } = enterMany(ramp, 3);
    stops[1]?.();
    expect(ramp.waiting).toBe(1);
    ramp.leave();
    expect(sent).toEqual([0, 2]);
  });
});
