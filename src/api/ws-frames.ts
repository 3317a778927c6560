/**
 * How subscription results become graphql-ws `next` frames on the wire, cheaply enough for a
 * thousand subscribers on one stream. A profile of the broker under `npm run bench:events` put
 * about half its CPU in socket writes (one writev per frame) and a tenth in graphql-ws building
 * each frame (validate, JSON.stringify of the whole message, per subscriber). Two changes:
 *
 * - Serialise once: a shared execution hands every identical subscriber the same result object
 *   (shared-subscription.ts), so its JSON is made once and kept in a WeakMap keyed by that object;
 *   each subscriber's frame is that string with its own operation id spliced in. Results with
 *   errors still go through graphql-ws (and the transport's error formatting), in order.
 * - One write per connection per tick: the first frame a connection gets in a tick corks its
 *   socket and a process.nextTick uncorks it. An event's deliveries all run in the microtask
 *   queue of the tick the notice arrived in, and a nextTick queued from there runs only after
 *   that queue has drained, so a connection's frames for the event leave in one writev.
 *
 * Both are switched by WS_BATCHED_FRAMES (off: graphql-ws frames every result itself and each
 * frame is its own write, the baseline of `npm run bench:events`).
 */
import type { Socket } from 'node:net';
import type { ExecutionResult } from 'graphql';

export interface FrameCounters {
  /** One result serialised to JSON (shared by every subscriber of that result). */
  serialised(): void;
}

/** The JSON of a result as graphql-ws would put it in a `next` payload (errors never get here). */
export function payloadSerialiser(counters: FrameCounters): (result: ExecutionResult) => string {
  const made = new WeakMap<ExecutionResult, string>();
  return (result) => {
    let json = made.get(result);
    if (json === undefined) {
      json = JSON.stringify(result);
      made.set(result, json);
      counters.serialised();
    }
    return json;
  };
}

/** The `next` frame of operation `id`: the same text JSON.stringify gives for {id, type, payload}. */
export function nextFrame(id: string, payloadJson: string): string {
  return `{"id":${JSON.stringify(id)},"type":"next","payload":${payloadJson}}`;
}

/**
 * `results` with every error-free result sent by the transport itself (`send(frame)`); only a
 * result with errors is yielded, so graphql-ws frames it with the transport's formatError. The
 * consumer's `return()` reaches `results` at once, as before.
 */
export function sendingResults(results: AsyncGenerator<ExecutionResult>, id: string, send: (frame: string) => void, serialise: (result: ExecutionResult) => string): AsyncGenerator<ExecutionResult> {
  const iterator: AsyncGenerator<ExecutionResult> = {
    next: async () => {
      for (;;) {
        const r = await results.next();
        if (r.done || r.value.errors) return r;
        send(nextFrame(id, serialise(r.value)));
      }
    },
    return: (value) => results.return(value),
    throw: (err) => results.throw(err),
    [Symbol.asyncIterator]() {
      return iterator;
    },
    [Symbol.asyncDispose]: async () => {
      await results.return(undefined);
    },
  };
  return iterator;
}

/** Corks `socket` for the rest of this tick (once per tick, however many frames it gets). */
export function corkForTick(socket: Socket, corked: { now: boolean }): void {
  if (corked.now) return;
  corked.now = true;
  socket.cork();
  process.nextTick(() => {
    corked.now = false;
    socket.uncork();
  });
}
