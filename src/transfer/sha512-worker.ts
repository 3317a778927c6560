/**
 * sha512 of a byte stream on a worker thread, so a multi-GiB transfer does not spend the
 * broker's event loop on hashing (about a third of its CPU during TRANSFER, measured).
 *
 * Bytes are copied into batches of BATCH_BYTES (the caller's chunks are pooled socket buffers
 * that also go on to the upload, so they cannot be handed over) and each full batch is
 * transferred to the worker, which hands it back once hashed; the batches are reused, so a
 * transfer allocates at most MAX_IN_FLIGHT + 1 of them however long it runs. `update` returns
 * a promise while MAX_IN_FLIGHT batches wait for the worker: the caller holds its stream until
 * it resolves (backpressure, bounded memory).
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** sha512 of a stream fed in order; `update` returns a promise when the caller should wait. */
export interface StreamHasher {
  update(chunk: Uint8Array): Promise<void> | undefined;
  digest(): Promise<string>;
  close(): Promise<void>;
}

/** Where TRANSFER hashes: `worker` (a thread per transfer) or `inline` (the event loop; the old way, the baseline of `npm run bench:clone`). */
export type TransferHashMode = 'worker' | 'inline';

export function createSha512Hasher(mode: TransferHashMode): StreamHasher {
  return mode === 'worker' ? new Sha512Worker() : new InlineSha512();
}

/** sha512 on the calling thread. */
export class InlineSha512 implements StreamHasher {
  private readonly hash = createHash('sha512');

  update(chunk: Uint8Array): undefined {
    this.hash.update(chunk);
    return undefined;
  }

  async digest(): Promise<string> {
    return this.hash.digest('hex');
  }

  async close(): Promise<void> {}
}

/** Big enough that one message per batch costs nothing next to hashing it (~2 ms a MiB). */
export const BATCH_BYTES = 1024 * 1024;
const MAX_IN_FLIGHT = 4;

// Plain JavaScript evaluated by the worker: works the same from dist/ and under ts-jest.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const hash = require('node:crypto').createHash('sha512');
parentPort.on('message', (m) => {
  if (m.op === 'data') {
    hash.update(new Uint8Array(m.buf, 0, m.length));
    parentPort.postMessage({ op: 'ack', buf: m.buf }, [m.buf]);
  } else if (m.op === 'end') {
    parentPort.postMessage({ op: 'digest', hex: hash.digest('hex') });
  }
});
`;

type Reply = { op: 'ack'; buf: ArrayBuffer } | { op: 'digest'; hex: string };

/** One stream's sha512: `update` with its bytes in order, then `digest`; always `close`. */
export class Sha512Worker implements StreamHasher {
  private readonly worker: Worker;
  private readonly free: ArrayBuffer[] = [];
  private batch: ArrayBuffer | null = null;
  private used = 0;
  private inFlight = 0;
  private waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  private onDigest: { resolve: (hex: string) => void; reject: (err: Error) => void } | null = null;
  private failure: Error | null = null;
  private closed = false;

  constructor() {
    this.worker = new Worker(WORKER_SOURCE, { eval: true });
    this.worker.on('message', (reply: Reply) => this.onReply(reply));
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => {
      if (!this.closed) this.fail(new Error(`the sha512 worker thread exited with code ${code}`));
    });
  }

  /** The worker's failure, if it failed (the stream must not be trusted then). */
  get error(): Error | null {
    return this.failure;
  }

  /** Returns a promise only when the worker is behind: wait for it before feeding more. */
  update(chunk: Uint8Array): Promise<void> | undefined {
    if (this.failure) return Promise.reject(this.failure);
    let offset = 0;
    while (offset < chunk.length) {
      this.batch ??= this.free.pop() ?? new ArrayBuffer(BATCH_BYTES);
      const n = Math.min(BATCH_BYTES - this.used, chunk.length - offset);
      new Uint8Array(this.batch, this.used, n).set(chunk.subarray(offset, offset + n));
      this.used += n;
      offset += n;
      if (this.used === BATCH_BYTES) this.flush();
    }
    if (this.inFlight < MAX_IN_FLIGHT) return undefined;
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** The hex sha512 of every byte given to `update`. */
  digest(): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    this.flush();
    return new Promise((resolve, reject) => {
      this.onDigest = { resolve, reject };
      this.worker.postMessage({ op: 'end' });
    });
  }

  /** Stops the thread; pending waits reject. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fail(new Error('sha512 worker closed'));
    await this.worker.terminate();
  }

  private flush(): void {
    if (!this.batch || this.used === 0) return;
    const buf = this.batch;
    const length = this.used;
    this.batch = null;
    this.used = 0;
    this.inFlight += 1;
    this.worker.postMessage({ op: 'data', buf, length }, [buf]);
  }

  private onReply(reply: Reply): void {
    if (reply.op === 'ack') {
      this.inFlight -= 1;
      this.free.push(reply.buf);
      this.waiters.shift()?.resolve();
    } else {
      this.onDigest?.resolve(reply.hex);
      this.onDigest = null;
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiters.splice(0)) w.reject(this.failure);
    this.onDigest?.reject(this.failure);
    this.onDigest = null;
  }
}
