/**
 * The frame path of src/api/ws-frames.ts, piece by piece (no timing): a spliced `next` frame is
 * exactly what graphql-ws would have sent, a result is serialised once however many subscribers
 * it serves, results with errors still go back to graphql-ws in order, unsubscribing reaches the
 * source, and a connection is corked for the rest of the tick only, over a real TCP socket.
 * The end-to-end counts (one serialisation per shared execution on a live broker) are in
 * shared-subscriptions.test.ts; the slow-consumer close (4413) in security/graphql-ws.test.ts.
 */
import net from 'node:net';
import { ExecutionResult, GraphQLError } from 'graphql';
import { corkForTick, nextFrame, payloadSerialiser, sendingResults } from '../../src/api/ws-frames';

/**
 * A live source as the bus gives one (abortableIterator): `items`, then nothing until
 * unsubscribed; `return` ends a pending `next` at once and is recorded.
 */
function source(items: ExecutionResult[]) {
  const state = { returned: false };
  let wake: ((r: IteratorResult<ExecutionResult>) => void) | null = null;
  const gen: AsyncGenerator<ExecutionResult> = {
    next: async () => {
      const item = items.shift();
      if (item) return { done: false, value: item };
      if (state.returned) return { done: true, value: undefined };
      return new Promise<IteratorResult<ExecutionResult>>((r) => (wake = r));
    },
    return: async () => {
      state.returned = true;
      wake?.({ done: true, value: undefined });
      return { done: true, value: undefined };
    },
    throw: async (err) => {
      throw err;
    },
    [Symbol.asyncIterator]() {
      return gen;
    },
    [Symbol.asyncDispose]: async () => undefined,
  };
  return { gen, state };
}

describe('subscription frames', () => {
  it('splices the id into a frame identical to JSON.stringify of the whole message, for hostile ids and payloads too', () => {
    const payloads: ExecutionResult[] = [{ data: { auditEvents: { seq: 7, action: 'x"}\u2028', details: { a: [1, null, 'é'] } } } }, { data: null }, { data: { a: 1 }, extensions: { n: 2 } }];
    for (const id of ['1', 'a"b\\c', '</script>', '\u0000\u2028', 'ü-🙂']) {
      for (const payload of payloads) {
        const frame = nextFrame(id, JSON.stringify(payload));
        expect(frame).toBe(JSON.stringify({ id, type: 'next', payload }));
        expect(JSON.parse(frame)).toEqual({ id, type: 'next', payload });
      }
    }
  });

  it('serialises one result once, however many subscribers it is framed for, and distinct results each once', () => {
    let count = 0;
    const serialise = payloadSerialiser({ serialised: () => void count++ });
    const shared: ExecutionResult = { data: { auditEvents: { seq: 1 } } };
    const frames = Array.from({ length: 1000 }, (_, i) => nextFrame(String(i), serialise(shared)));
    expect(count).toBe(1);
    expect(JSON.parse(frames[999])).toEqual({ id: '999', type: 'next', payload: shared });
    serialise({ data: { auditEvents: { seq: 2 } } });
    serialise({ data: { auditEvents: { seq: 2 } } });
    expect(count).toBe(3);
  });

  it('sends error-free results itself, hands a result with errors back in order, and lets unsubscribing reach the source', async () => {
    const withError: ExecutionResult = { data: null, errors: [new GraphQLError('boom')] };
    const { gen, state } = source([{ data: { n: 1 } }, { data: { n: 2 } }, withError, { data: { n: 3 } }]);
    const sent: string[] = [];
    const log: string[] = [];
    const it = sendingResults(gen, 'op-1', (frame) => {
      sent.push(frame);
      log.push(`sent ${JSON.parse(frame).payload.data.n}`);
    }, (r) => JSON.stringify(r));

    const first = await it.next();
    expect(first).toEqual({ done: false, value: withError });
    log.push('yielded error');
    expect(sent.map((f) => JSON.parse(f))).toEqual([
      { id: 'op-1', type: 'next', payload: { data: { n: 1 } } },
      { id: 'op-1', type: 'next', payload: { data: { n: 2 } } },
    ]);

    const pending = it.next(); // sends n=3, then waits for the next event
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['sent 1', 'sent 2', 'yielded error', 'sent 3']);
    await it.return(undefined);
    expect(state.returned).toBe(true);
    expect(await pending).toEqual({ done: true, value: undefined });
  });

  it('corks a connection once per tick and uncorks it when the tick is over, and every frame arrives in order', async () => {
    const received: Buffer[] = [];
    const server = net.createServer((s) => s.on('data', (d) => received.push(d)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    try {
      const corked = { now: false };
      await Promise.resolve().then(() => {
        for (let i = 0; i < 5; i++) {
          corkForTick(socket, corked);
          socket.write(`f${i};`);
        }
        // Corked once, not five times, and nothing has left yet.
        expect(socket.writableCorked).toBe(1);
        expect(socket.writableLength).toBe(15);
      });
      await new Promise((r) => setImmediate(r));
      expect(socket.writableCorked).toBe(0);
      expect(corked.now).toBe(false);
      // The next tick corks again.
      corkForTick(socket, corked);
      socket.write('g;');
      expect(socket.writableCorked).toBe(1);
      await new Promise((r) => setImmediate(r));
      expect(socket.writableCorked).toBe(0);
      await new Promise<void>((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`received ${Buffer.concat(received).toString()}`)), 10_000);
        const check = () => (Buffer.concat(received).toString() === 'f0;f1;f2;f3;f4;g;' ? (clearTimeout(deadline), resolve()) : setTimeout(check, 10));
        check();
      });
    } finally {
      socket.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});
