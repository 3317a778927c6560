/**
 * The chunk stream's codec: an image is cut into fixed CHUNK_BYTES chunks (the last one may be
 * shorter); an all-zero chunk becomes a marker, any other is named by the sha256 of its raw bytes
 * and carried as a frame: one tag byte (FRAME_ZSTD or FRAME_RAW) then the zstd level-1 bytes, or
 * the raw bytes when zstd would not make them smaller (already compressed data).
 *
 * Zero test, sha256 and (de)compression run on a small pool of worker threads, so a transfer
 * does not spend the broker's (or an agent's) event loop on them. Decoding checks the sha256 of
 * what it produced against the name it was asked for: a corrupted or substituted frame is refused
 * before anything stores or uses it.
 *
 * Why fixed chunks and not content-defined ones: a VM disk image is block-addressed (ext4 and
 * qcow2 clusters sit on 4 KiB boundaries), so a changed file changes whole aligned blocks in place
 * and never shifts the bytes after it; content-defined boundaries buy nothing there and cost a
 * rolling hash over every byte. Fixed chunks also let the source read chunk i with a plain Range
 * request, in parallel.
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import { Worker } from 'node:worker_threads';

/** 4 MiB: big enough that per-chunk costs (a request, a file, a hash lookup) vanish, small enough to dedup at file granularity. */
export const CHUNK_BYTES = 4 * 1024 * 1024;
export const FRAME_RAW = 0;
export const FRAME_ZSTD = 1;

/** A chunk ready to send: a zero marker, or its sha256 (hex) and frame. */
export type EncodedChunk = { zero: true; size: number } | { zero: false; size: number; hash: string; frame: Buffer };

/** A frame whose bytes do not hash to the chunk's name, or that cannot be decoded. */
export class ChunkIntegrityError extends Error {
  constructor(
    readonly hash: string,
    why: string,
  ) {
    super(`chunk ${hash.slice(0, 16)}... refused: ${why}`);
  }
}

/** sha256 (hex) names a chunk; nothing else is accepted as a name. */
export const CHUNK_HASH = /^[0-9a-f]{64}$/;

// Plain JavaScript evaluated by each worker: works the same from dist/ and under ts-jest. The
// zstd binding's path comes from the parent, since an eval'd worker resolves modules from nowhere.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const zstd = require(workerData.zstdPath);
const ZEROS = Buffer.alloc(${CHUNK_BYTES});
const sha256 = (b) => createHash('sha256').update(b).digest('hex');
async function encode(raw) {
  const zero = raw.length <= ZEROS.length ? raw.equals(ZEROS.subarray(0, raw.length)) : raw.every((b) => b === 0);
  if (zero) return { zero: true, size: raw.length };
  const hash = sha256(raw);
  const packed = await zstd.compress(raw, 1);
  const body = packed.length < raw.length ? packed : raw;
  const frame = Buffer.allocUnsafeSlow(body.length + 1);
  frame[0] = body === raw ? ${FRAME_RAW} : ${FRAME_ZSTD};
  body.copy(frame, 1);
  return { zero: false, size: raw.length, hash, frame };
}
async function decode(frame, hash, size) {
  if (frame.length < 1) throw new Error('empty frame');
  let raw;
  if (frame[0] === ${FRAME_RAW}) raw = frame.subarray(1);
  else if (frame[0] === ${FRAME_ZSTD}) raw = await zstd.decompress(frame.subarray(1));
  else throw new Error('unknown frame tag ' + frame[0]);
  if (size !== null && raw.length !== size) throw new Error('decoded ' + raw.length + ' bytes, expected ' + size);
  const actual = sha256(raw);
  if (actual !== hash) throw new Error('sha256 ' + actual.slice(0, 16) + '... does not match');
  const out = Buffer.allocUnsafeSlow(raw.length);
  raw.copy(out);
  return out;
}
parentPort.on('message', async (m) => {
  try {
    if (m.op === 'encode') {
      const r = await encode(Buffer.from(m.buf, m.offset, m.length));
      parentPort.postMessage({ id: m.id, ok: r.zero ? r : { ...r, frame: r.frame.buffer } }, r.zero ? [] : [r.frame.buffer]);
    } else {
      const raw = await decode(Buffer.from(m.buf, m.offset, m.length), m.hash, m.size);
      parentPort.postMessage({ id: m.id, ok: raw.buffer }, [raw.buffer]);
    }
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: String(err && err.message || err) });
  }
});
`;

interface Task {
  id: number;
  message: Record<string, unknown>;
  transfer: ArrayBuffer[];
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

/**
 * A fixed pool of codec threads shared by every transfer in the process; tasks queue when all
 * are busy. `size` defaults to the cores less one (at least 1, at most 4).
 */
export class ChunkCodecPool {
  private readonly workers: Array<{ worker: Worker; busy: Task | null }> = [];
  private readonly queue: Task[] = [];
  private nextId = 1;
  private closed = false;

  constructor(size = Math.min(4, Math.max(1, os.availableParallelism() - 1))) {
    const zstdPath = require.resolve('@mongodb-js/zstd');
    for (let i = 0; i < size; i++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { zstdPath } });
      const slot = { worker, busy: null as Task | null };
      worker.on('message', (reply: { id: number; ok?: unknown; error?: string }) => {
        const task = slot.busy;
        slot.busy = null;
        if (task) {
          if (reply.error !== undefined) task.reject(new Error(reply.error));
          else task.resolve(reply.ok);
        }
        this.pump();
      });
      worker.on('error', (err) => this.failSlot(slot, err));
      worker.on('exit', (code) => {
        if (!this.closed) this.failSlot(slot, new Error(`a chunk codec thread exited with code ${code}`));
      });
      worker.unref();
      this.workers.push(slot);
    }
  }

  /** Zero test, sha256 and compression of one chunk. `raw` is handed over (detached) when it owns its whole buffer. */
  async encode(raw: Buffer): Promise<EncodedChunk> {
    const reply = (await this.run({ op: 'encode' }, raw)) as { zero: true; size: number } | { zero: false; size: number; hash: string; frame: ArrayBuffer };
    return reply.zero ? reply : { zero: false, size: reply.size, hash: reply.hash, frame: Buffer.from(reply.frame) };
  }

  /**
   * The raw bytes of a frame, refused with ChunkIntegrityError unless they hash to `hash` (and
   * have `size` bytes, when given).
   */
  async decode(frame: Buffer, hash: string, size: number | null = null): Promise<Buffer> {
    try {
      return Buffer.from((await this.run({ op: 'decode', hash, size }, frame)) as ArrayBuffer);
    } catch (err) {
      if (this.closed) throw err;
      throw new ChunkIntegrityError(hash, (err as Error).message);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const task of this.queue.splice(0)) task.reject(new Error('chunk codec pool closed'));
    await Promise.all(this.workers.map((s) => s.worker.terminate()));
  }

  private run(message: Record<string, unknown>, data: Buffer): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('chunk codec pool closed'));
    // Hand the memory over when the Buffer is all of it; else (a pooled slice) copy it first.
    const owned = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer;
    const buf = owned ? (data.buffer as ArrayBuffer) : Uint8Array.prototype.slice.call(data).buffer;
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, message: { ...message, buf, offset: 0, length: data.byteLength }, transfer: [buf], resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    for (const slot of this.workers) {
      if (this.queue.length === 0) return;
      if (slot.busy) continue;
      const task = this.queue.shift()!;
      slot.busy = task;
      slot.worker.postMessage({ ...task.message, id: task.id }, task.transfer);
    }
  }

  private failSlot(slot: { busy: Task | null }, err: Error): void {
    slot.busy?.reject(err);
    slot.busy = null;
  }
}

/** sha256 (hex) of raw chunk bytes, for callers that hold them already (tests, the store's self-check). */
export function chunkHash(raw: Uint8Array): string {
  return createHash('sha256').update(raw).digest('hex');
}
