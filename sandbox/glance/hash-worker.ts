/**
 * md5 and sha512 on a worker thread. On this class of machine one core hashes both at about
 * 200 MiB/s, which made hashing, not the emulated link, the limit of every image transfer;
 * moving it off the thread that parses HTTP and writes files roughly doubles throughput.
 * Bytes are copied into 1 MiB batches (so the sender's pooled buffers stay untouched) and the
 * number of batches in flight is bounded, so a fast sender waits instead of queueing GiBs.
 */
import { Worker } from 'node:worker_threads';
import type { ImageDigest } from './image-hashing';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const sessions = new Map();
const open = (id) => {
  let s = sessions.get(id);
  if (!s) { s = { md5: createHash('md5'), sha512: createHash('sha512') }; sessions.set(id, s); }
  return s;
};
parentPort.on('message', (m) => {
  if (m.op === 'data') {
    const s = open(m.id);
    const bytes = new Uint8Array(m.buf, 0, m.length);
    s.md5.update(bytes);
    s.sha512.update(bytes);
    parentPort.postMessage({ id: m.id, ack: true });
  } else if (m.op === 'end') {
    const s = open(m.id);
    sessions.delete(m.id);
    parentPort.postMessage({ id: m.id, md5: s.md5.digest('hex'), sha512: s.sha512.digest('hex') });
  } else if (m.op === 'abort') {
    sessions.delete(m.id);
  }
});
`;

const BATCH = 1024 * 1024;
const MAX_IN_FLIGHT = 8;

type Reply = { id: number; ack?: true; md5?: string; sha512?: string };

interface SessionState {
  inFlight: number;
  waiters: Array<() => void>;
  onDigest?: (digest: { md5: string; sha512: string }) => void;
  onFail?: (err: Error) => void;
}

export class HashWorker {
  private worker?: Worker;
  private nextId = 1;
  private readonly sessions = new Map<number, SessionState>();

  private ensure(): Worker {
    if (!this.worker) {
      this.worker = new Worker(WORKER_SOURCE, { eval: true });
      this.worker.unref();
      this.worker.on('message', (reply: Reply) => this.onReply(reply));
      this.worker.on('error', (err) => {
        // Every session in progress fails; the next one starts a fresh worker.
        for (const state of this.sessions.values()) {
          state.waiters.splice(0).forEach((w) => w());
          state.onFail?.(err);
        }
        this.sessions.clear();
        this.worker = undefined;
      });
    }
    return this.worker;
  }

  private onReply(reply: Reply): void {
    const state = this.sessions.get(reply.id);
    if (!state) return;
    if (reply.ack) {
      state.inFlight -= 1;
      state.waiters.shift()?.();
    } else if (reply.md5 && reply.sha512) {
      this.sessions.delete(reply.id);
      state.onDigest?.({ md5: reply.md5, sha512: reply.sha512 });
    }
  }

  session(): HashSession {
    const id = this.nextId++;
    const state: SessionState = { inFlight: 0, waiters: [] };
    this.sessions.set(id, state);
    const worker = this.ensure();
    return new HashSession(
      (buf, length) => {
        state.inFlight += 1;
        worker.postMessage({ op: 'data', id, buf, length }, [buf]);
        if (state.inFlight < MAX_IN_FLIGHT) return undefined;
        return new Promise<void>((resolve) => state.waiters.push(resolve));
      },
      () =>
        new Promise((resolve, reject) => {
          state.onDigest = resolve;
          state.onFail = reject;
          worker.postMessage({ op: 'end', id });
        }),
      () => {
        this.sessions.delete(id);
        state.waiters.splice(0).forEach((w) => w());
        worker.postMessage({ op: 'abort', id });
      },
    );
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }
}

/** One image's hashing: feed bytes in order, then ask for the digest. */
export class HashSession {
  private batch = new ArrayBuffer(BATCH);
  private used = 0;
  private total = 0;

  constructor(
    private readonly post: (buf: ArrayBuffer, length: number) => Promise<void> | undefined,
    private readonly finish: () => Promise<{ md5: string; sha512: string }>,
    private readonly cancel: () => void,
  ) {}

  get bytes(): number {
    return this.total;
  }

  /** Returns a promise only when the worker is behind: the caller should wait before sending more. */
  update(chunk: Uint8Array): Promise<void> | undefined {
    this.total += chunk.length;
    let offset = 0;
    let wait: Promise<void> | undefined;
    while (offset < chunk.length) {
      const n = Math.min(BATCH - this.used, chunk.length - offset);
      new Uint8Array(this.batch, this.used, n).set(chunk.subarray(offset, offset + n));
      this.used += n;
      offset += n;
      if (this.used === BATCH) wait = this.flush() ?? wait;
    }
    return wait;
  }

  private flush(): Promise<void> | undefined {
    if (this.used === 0) return undefined;
    const full = this.batch;
    const length = this.used;
    this.batch = new ArrayBuffer(BATCH);
    this.used = 0;
    return this.post(full, length);
  }

  async digest(): Promise<ImageDigest> {
    await this.flush();
    const { md5, sha512 } = await this.finish();
    return { size: this.total, md5, sha512 };
  }

  abort(): void {
    this.cancel();
  }
}
