import type { Socket } from "node:net";

/*
 * Opens connections to a replica only as fast as the replica takes them.
 *
 * A Node service accepts one connection per turn of its event loop (libuv since 1.45: "unix:
 * don't accept() connections in a loop", libuv/libuv#3696). A busy service turns its loop a few
 * dozen times a second, so when load jumps and the gateway opens hundreds of connections at once,
 * they wait in the service's accept queue, each with a request on it, for seconds: at 300
 * checkouts/s `ss -ltn` showed checkout's queue at 374 connections draining at ~20/s, and the
 * requests on them hit the gateway's 15 s timeout (72–272 504s a run), while connections already
 * open came free and served later requests first.
 *
 * So a replica gets at most `burst` connections that have not yet answered a request beyond those
 * that have (and never more than `max` in all): a request finding no connection free and the
 * burst used waits here, first come first served, for one to come free or to prove itself.
 */
export class ConnectionRamp {
  #inFlight = 0;
  #answered = 0;
  readonly #proven = new WeakSet<Socket>();
  readonly #waiting = new Set<() => void>();

  constructor(
    private readonly max: number,
    private readonly burst: number,
  ) {}

  /** Requests on a connection at once: one per connection, as keep-alive HTTP/1.1 goes. */
  get limit() {
    return Math.min(this.max, this.#answered + this.burst);
  }

  /** Whether a request entering now would be sent at once. */
  get hasRoom() {
    return this.#inFlight < this.limit;
  }

  /** Requests waiting for their turn. */
  get waiting() {
    return this.#waiting.size;
  }

  /**
   * Runs `send` now when the replica may take another request, else once it may. Returns a
   * function that gives up the wait (a timeout, a client gone); `leave()` ends a sent request.
   */
  enter(send: () => void): () => void {
    if (this.hasRoom) {
      this.#inFlight++;
      send();
      return () => {};
    }
    this.#waiting.add(send);
    return () => this.#waiting.delete(send);
  }

  /** A request sent by `enter` has ended (answered, failed or cut); the next may go. */
  leave() {
    this.#inFlight--;
    this.#admit();
  }

  /** The replica answered on `socket`: it was accepted, so another connection may open. */
  answered(socket: Socket | null) {
    if (!socket || this.#proven.has(socket)) return;
    this.#proven.add(socket);
    this.#answered++;
    socket.once("close", () => {
      this.#answered--;
    });
    this.#admit();
  }

  #admit() {
    for (const send of this.#waiting) {
      if (!this.hasRoom) return;
      this.#waiting.delete(send);
      this.#inFlight++;
      send();
    }
  }
}
