import { Agent } from "node:http";
import { describe, expect, it } from "vitest";
import {
  createReplicaSets,
  eject,
  nextReplica,
  type Replica,
  type ReplicaSet,
  type ReplicaTour,
} from "./replicas.ts";
import { createUpstreamPools } from "./routes.ts";

function ordersSet(count: number): ReplicaSet {
  const agent = new Agent();
  const urls = Array.from({ length: count }, (_, i) => `http://127.0.0.1:${9001 + i}`);
  return createReplicaSets(
    createUpstreamPools({ checkout: urls, inventory: urls, orders: urls }),
    { http: agent, https: agent },
    { max: 8, burst: 2 },
  ).orders;
}

const replicaOf = (set: ReplicaSet, index: number) => set.replicas[index] as Replica;

/** Every replica one request would try, in order, by port. */
function tour(set: ReplicaSet, now = 0): number[] {
  const state: ReplicaTour = { start: set.nextStart(now), step: 0, tried: 0 };
  const ports: number[] = [];
  for (let replica = nextReplica(set, state, now); replica; replica = nextReplica(set, state, now))
    ports.push(replica.port);
  return ports;
}

describe("a request's tour of the replicas", () => {
  it("starts at the next replica in turn and visits each once", () => {
    const set = ordersSet(3);
    expect(tour(set)).toEqual([9001, 9002, 9003]);
    expect(tour(set)).toEqual([9002, 9003, 9001]);
    expect(tour(set)).toEqual([9003, 9001, 9002]);
    expect(tour(set)).toEqual([9001, 9002, 9003]);
  });

  it("gives the turn of a replica whose connections are all busy to the next with room", () => {
    const set = ordersSet(3);
    // the ramp's burst is 2: two requests in flight and no connection answered yet
    for (let i = 0; i < 2; i++) replicaOf(set, 0).ramp.enter(() => {});
    expect(tour(set)).toEqual([9002, 9003, 9001]);
    expect(tour(set)).toEqual([9002, 9003, 9001]);
    expect(tour(set)).toEqual([9003, 9001, 9002]);
    for (const i of [1, 2]) for (let j = 0; j < 2; j++) replicaOf(set, i).ramp.enter(() => {});
    expect(tour(set)).toEqual([9001, 9002, 9003]);
  });

  it("visits replicas out of rotation last, as a last resort", () => {
    const set = ordersSet(3);
    replicaOf(set, 0).ready = false;
    eject(replicaOf(set, 1), 0, 1000);
    expect(tour(set, 10)).toEqual([9003, 9001, 9002]);
  });

  it("puts an ejected replica back when its ejection ends", () => {
    const set = ordersSet(2);
    eject(replicaOf(set, 0), 0, 1000);
    expect(tour(set, 999)).toEqual([9002, 9001]);
    expect(tour(set, 1000)).toEqual([9002, 9001]);
    expect(tour(set, 1000)).toEqual([9001, 9002]);
  });
});
