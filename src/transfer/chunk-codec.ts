/**
 * The chunk stream's codec: an image is cut into content-defined chunks (16 KiB to 256 KiB, about
 * 64 KiB on average; cdcChunkLengths), never across a 4 MiB span's end; an all-zero chunk becomes
 * a marker, any other is named by the sha256 of its raw bytes and carried as a frame: one tag byte
 * (FRAME_ZSTD or FRAME_RAW) then the zstd level-1 bytes, or the raw bytes when zstd would not make
 * them smaller (already compressed data). The manifest lists every chunk's name (or null) and size.
 *
 * Cutting, zero test, sha256 and (de)compression run on a small pool of worker threads, so a
 * transfer does not spend the broker's (or an agent's) event loop on them. Decoding checks the
 * sha256 of what it produced against the name it was asked for: a corrupted or substituted frame
 * is refused before anything stores or uses it, and a frame that could decode to more than a
 * chunk (MAX_CHUNK_BYTES plus one zstd block) is refused before it is decoded.
 *
 * Why content-defined chunks: measured with `npm run bench:chunking` (test/bench/chunking.measure.ts)
 * on bench:transfer's own images (`mkfs.ext4 -d` of this machine's /usr filling 60%; v2 a new mkfs
 * after every tenth file was rewritten with random bytes), 2026-12-08: frame bytes / image bytes of
 * a first transfer (v1's distinct non-zero chunks, zstd level 1) and of a repeat (v2's chunks that
 * v1 does not hold). The rewritten files are 0.022 (128 MiB) and 0.084 (512 MiB) of the image, all
 * incompressible: no scheme can send less than that on the repeat.
 *
 *   scheme                          128 MiB: first / repeat   512 MiB: first / repeat   chunks (512 MiB v1)
 *   fixed 64 KiB (the engine before)   0.234 / 0.245             0.193 / 0.199              8,192
 *   fixed 4 KiB                        0.264 / 0.262             0.204 / 0.084            131,072
 *   cdc 16/64/256, per 4 MiB span      0.224 / 0.042             0.164 / 0.099              4,479  <- this engine
 *   cdc 16/64/256, whole image         0.223 / 0.034             0.161 / 0.092              4,445
 *   cdc 8/32/128, per span             0.223 / 0.036             0.160 / 0.094              8,926
 *   cdc 32/128/512, per span           0.224 / 0.058             0.171 / 0.112              2,236
 *   cdc 4/16/64, per span              0.223 / 0.028             0.158 / 0.089             17,773
 *
 * A new mkfs allocates blocks afresh, so the rewritten files shift later files by a few (1 KiB or
 * 4 KiB) blocks: fixed 64 KiB chunks then find almost nothing of v1 again (0.245 of the image sent
 * on the repeat of the 128 MiB image, against 0.042 with content-defined chunks; casync, also
 * content-defined at 16/64/256 KiB, sent 0.031 in bench:transfer). Content-defined cuts also
 * compress a little better (0.164 against 0.193 of the 512 MiB image on a first transfer) and cut
 * zero runs into 256 KiB markers (4,479 chunks in all against 8,192). 16/64/256 rather than smaller: 8/32/128
 * saves 0.005-0.006 of the image on the repeat for twice the chunk files, "have?" names and
 * manifest entries; 32/128/512 loses 0.013-0.016. A disk changed in place (a package update inside
 * a running VM) keeps its layout and dedups as well as with fixed chunks.
 *
 * Why per span: every span end (SPAN_BYTES, fixed image offsets) is also a chunk end, so a span's
 * chunks depend on its own bytes only. Spans are then read with parallel Range requests and cut
 * on any codec thread, and an image is cut identically by whoever reads it (the source, or the
 * target indexing an image it already holds). The cost, measured above against cutting the whole
 * image as one stream: 0.007-0.008 of the image on the repeat (the chunks at either end of a span
 * change when the content moves under the span grid).
 *
 * Per-chunk costs stay small because nothing is per chunk except the hash and the frame: the
 * source reads SPAN_BYTES per Range request and encodes a span per worker message; "which do you
 * lack?" is one request per span (at most MAX_BATCH_HASHES names) and the chunks the target lacks
 * travel in framed batches of at most MAX_BATCH_BYTES (packBatch).
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { GEAR } from './gear-table';

/** Content-defined chunk sizes: no cut before MIN (but a span's or the image's end), on average about AVG, always one at MAX. */
export const MIN_CHUNK_BYTES = 16 * 1024;
export const AVG_CHUNK_BYTES = 64 * 1024;
export const MAX_CHUNK_BYTES = 256 * 1024;
/**
 * Normalized chunking (FastCDC's level 2): before AVG a cut needs 18 zero bits of the rolling
 * hash, after it 14, so sizes bunch around AVG. The top bits are tested: with a 32-bit gear hash
 * shifted left once per byte, bit k depends on the last k+1 bytes, so the top bits see the most.
 */
export const CUT_MASK_BEFORE_AVG = 0xffffc000 | 0;
export const CUT_MASK_AFTER_AVG = 0xfffc0000 | 0;
/**
 * What the source reads per Range request and encodes per worker message. Every span end is a
 * chunk boundary, and spans sit at fixed offsets, so a span's chunks depend on its bytes only:
 * spans are read and cut in parallel, and the same image is cut the same way whichever reads it
 * (the source, or a target indexing an image it already holds).
 */
export const SPAN_BYTES = 4 * 1024 * 1024;
/** The most a frame can be: the raw tag and the chunk's bytes (zstd is used only when smaller). */
export const MAX_FRAME_BYTES = MAX_CHUNK_BYTES + 1;
/** Bounds of one batch request: names in a "have?" question, chunks and bytes in a send. */
export const MAX_BATCH_HASHES = 4096;
export const MAX_BATCH_BYTES = 8 * 1024 * 1024;
/** A batch entry's header: the raw sha256 (32 bytes) and the frame's length (uint32, big-endian). */
const BATCH_HEADER = 36;
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

/**
 * The most bytes a zstd frame can decode to, read from its headers without decoding it; a string
 * says why the frame is refused. A chunk's frame comes from a partner's agent, so it is hostile
 * until checked: zstd's decoder grows its output to whatever the frame says (a few KiB of RLE
 * blocks decode to gigabytes), and the sha256 check runs only after decoding. So before
 * decompressing: exactly one frame, no dictionary, a declared content size (when the frame has
 * one; our encoder writes none) no larger than `maxBytes`, and blocks whose regenerated sizes (exact for raw and RLE blocks, at most 128 KiB for a
 * compressed one, RFC 8878 3.1.1.2) add up to at most `maxBytes`. Self-contained: the worker runs
 * its source text.
 */
export function zstdFrameBound(frame: Uint8Array, maxBytes: number): number | string {
  const u32 = (at: number) => (frame[at] | (frame[at + 1] << 8) | (frame[at + 2] << 16) | (frame[at + 3] << 24)) >>> 0;
  if (frame.length < 6 || u32(0) !== 0xfd2fb528) return 'not a zstd frame';
  const descriptor = frame[4];
  const fcsFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  const hasChecksum = (descriptor >> 2) & 1;
  if ((descriptor >> 3) & 1) return 'reserved bit set in the frame header';
  if ((descriptor & 3) !== 0) return 'frame names a dictionary';
  let at = 5 + (singleSegment ? 0 : 1);
  const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag];
  if (at + fcsBytes > frame.length) return 'frame header cut short';
  let declared = 0;
  for (let i = fcsBytes - 1; i >= 0; i--) declared = declared * 256 + frame[at + i];
  if (fcsBytes === 2) declared += 256;
  at += fcsBytes;
  if (declared > maxBytes) return `frame declares ${declared} bytes, more than ${maxBytes}`;
  let bound = 0;
  for (;;) {
    if (at + 3 > frame.length) return 'block header cut short';
    const header = frame[at] | (frame[at + 1] << 8) | (frame[at + 2] << 16);
    at += 3;
    const last = header & 1;
    const type = (header >> 1) & 3;
    const size = header >>> 3;
    if (type === 3) return 'reserved block type';
    const content = type === 1 ? 1 : size;
    if (at + content > frame.length) return 'block cut short';
    at += content;
    bound += type === 2 ? 128 * 1024 : size;
    if (bound > maxBytes) return `blocks may decode to more than ${maxBytes} bytes`;
    if (last) break;
  }
  if (at + (hasChecksum ? 4 : 0) !== frame.length) return 'bytes after the frame';
  return bound;
}

/**
 * The lengths of the content-defined chunks of `data` (a span, or a whole image), in order; they
 * add up to data.length. A gear rolling hash (FastCDC: h = (h << 1) + gear[byte], so it forgets a
 * byte after 32 shifts) runs from MIN bytes into each chunk; the chunk ends after the first byte
 * where the hash's masked bits are all zero, with the harder mask until AVG and the easier one
 * after, or at MAX. A byte inserted or removed moves the cut points near it only: the rest of the
 * data cuts at the same content. A long zero run cuts at MAX every time (the hash settles on a
 * value the masks miss), so it becomes identical all-zero chunks, each one marker.
 * Self-contained: the worker runs its source text.
 */
export function cdcChunkLengths(data: Uint8Array, gear: readonly number[], min: number, avg: number, max: number, maskBefore: number, maskAfter: number): number[] {
  const out: number[] = [];
  const n = data.length;
  let start = 0;
  while (start < n) {
    if (n - start <= min) {
      out.push(n - start);
      break;
    }
    const end = Math.min(start + max, n);
    const normal = Math.min(start + avg, end);
    let cut = end;
    let h = 0;
    let i = start + min;
    for (; i < normal; i++) {
      h = ((h << 1) + gear[data[i]]) | 0;
      if ((h & maskBefore) === 0) {
        cut = i + 1;
        break;
      }
    }
    if (cut === end) {
      for (; i < end; i++) {
        h = ((h << 1) + gear[data[i]]) | 0;
        if ((h & maskAfter) === 0) {
          cut = i + 1;
          break;
        }
      }
    }
    out.push(cut - start);
    start = cut;
  }
  return out;
}

/** cdcChunkLengths with the engine's table, sizes and masks. */
export function chunkLengths(data: Uint8Array): number[] {
  return cdcChunkLengths(data, GEAR, MIN_CHUNK_BYTES, AVG_CHUNK_BYTES, MAX_CHUNK_BYTES, CUT_MASK_BEFORE_AVG, CUT_MASK_AFTER_AVG);
}

// Plain JavaScript evaluated by each worker: works the same from dist/ and under ts-jest. The
// zstd binding's path comes from the parent, since an eval'd worker resolves modules from nowhere.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const zstd = require(workerData.zstdPath);
const ZEROS = Buffer.alloc(${MAX_CHUNK_BYTES});
// A chunk decodes to MAX_CHUNK_BYTES at most; one compressed block may claim up to 128 KiB.
const MAX_DECODED = ${MAX_CHUNK_BYTES} + 128 * 1024;
const GEAR = new Int32Array(${JSON.stringify(GEAR)});
${zstdFrameBound.toString()}
${cdcChunkLengths.toString()}
const sha256 = (b) => createHash('sha256').update(b).digest('hex');
async function encode(raw) {
  if (raw.length > ZEROS.length) throw new Error('a chunk is at most ${MAX_CHUNK_BYTES} bytes');
  const zero = raw.equals(ZEROS.subarray(0, raw.length));
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
  else if (frame[0] === ${FRAME_ZSTD}) {
    const bound = zstdFrameBound(frame.subarray(1), MAX_DECODED);
    if (typeof bound === 'string') throw new Error(bound);
    raw = await zstd.decompress(frame.subarray(1));
  }
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
    if (m.op === 'encodeSpan') {
      const span = Buffer.from(m.buf, m.offset, m.length);
      const out = [];
      const transfer = [];
      const lengths = cdcChunkLengths(span, GEAR, ${MIN_CHUNK_BYTES}, ${AVG_CHUNK_BYTES}, ${MAX_CHUNK_BYTES}, ${CUT_MASK_BEFORE_AVG}, ${CUT_MASK_AFTER_AVG});
      let at = 0;
      for (const length of lengths) {
        const r = await encode(span.subarray(at, at + length));
        at += length;
        if (r.zero) out.push(r);
        else {
          out.push({ ...r, frame: r.frame.buffer });
          transfer.push(r.frame.buffer);
        }
      }
      // The span's memory goes back too: the reader refills it rather than mapping fresh pages.
      parentPort.postMessage({ id: m.id, ok: { chunks: out, span: m.buf } }, [...transfer, m.buf]);
    } else if (m.op === 'encode') {
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
 * are busy. `size` defaults to the cores (at least 2, at most 4): the threads that hold the event
 * loop mostly wait on sockets, and with one codec thread on a 2-core machine the other core idled
 * while every chunk queued behind one zstd.
 */
export class ChunkCodecPool {
  private readonly workers: Array<{ worker: Worker; busy: Task | null }> = [];
  private readonly queue: Task[] = [];
  private nextId = 1;
  private closed = false;

  constructor(size = Math.min(4, Math.max(2, os.availableParallelism()))) {
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
   * `encode` of each content-defined chunk of `span` (chunkLengths), in one worker message.
   * `span` is handed over and comes back as `memory` (the whole of its ArrayBuffer), for the
   * caller to reuse: a fresh 4 MiB buffer per span cost more in page faults (1.5 s of the source's
   * CPU per 128 MiB in a profile) than all the hashing.
   */
  async encodeSpan(span: Buffer): Promise<{ chunks: EncodedChunk[]; memory: Buffer }> {
    type Reply = { zero: true; size: number } | { zero: false; size: number; hash: string; frame: ArrayBuffer };
    const reply = (await this.run({ op: 'encodeSpan' }, span)) as { chunks: Reply[]; span: ArrayBuffer };
    return {
      chunks: reply.chunks.map((r) => (r.zero ? r : { zero: false, size: r.size, hash: r.hash, frame: Buffer.from(r.frame) })),
      memory: Buffer.from(reply.span),
    };
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

/** One chunk in a batch send. */
export interface BatchChunk {
  hash: string;
  frame: Buffer;
}

/** The body of a batch send: per chunk, its raw sha256, its frame's length (uint32 BE) and its frame. */
export function packBatch(chunks: readonly BatchChunk[]): Buffer {
  const parts: Buffer[] = [];
  for (const c of chunks) {
    const header = Buffer.allocUnsafe(BATCH_HEADER);
    header.write(c.hash, 0, 32, 'hex');
    header.writeUInt32BE(c.frame.length, 32);
    parts.push(header, c.frame);
  }
  return Buffer.concat(parts);
}

/** The most bytes a batch body with MAX_BATCH_BYTES of frames can have. */
export const MAX_BATCH_BODY_BYTES = MAX_BATCH_BYTES + MAX_BATCH_HASHES * BATCH_HEADER;

/** A batch body that breaks the format or its bounds. */
export class BatchFormatError extends Error {}

/**
 * The chunks of a batch body (frames are views into it), refused with BatchFormatError unless it
 * is whole entries within the bounds. Frames are not verified here: the target decodes each and
 * checks its sha256 before it stores it.
 */
export function unpackBatch(body: Buffer): BatchChunk[] {
  if (body.length > MAX_BATCH_BODY_BYTES) throw new BatchFormatError(`a batch is at most ${MAX_BATCH_BODY_BYTES} bytes`);
  const out: BatchChunk[] = [];
  let at = 0;
  let frames = 0;
  while (at < body.length) {
    if (out.length === MAX_BATCH_HASHES) throw new BatchFormatError(`a batch holds at most ${MAX_BATCH_HASHES} chunks`);
    if (body.length - at < BATCH_HEADER) throw new BatchFormatError(`batch entry ${out.length} is cut short in its header`);
    const hash = body.toString('hex', at, at + 32);
    const length = body.readUInt32BE(at + 32);
    if (length < 1 || length > MAX_FRAME_BYTES) throw new BatchFormatError(`batch entry ${out.length}: a frame is 1 to ${MAX_FRAME_BYTES} bytes`);
    at += BATCH_HEADER;
    if (body.length - at < length) throw new BatchFormatError(`batch entry ${out.length} is cut short in its frame`);
    frames += length;
    if (frames > MAX_BATCH_BYTES) throw new BatchFormatError(`a batch carries at most ${MAX_BATCH_BYTES} frame bytes`);
    out.push({ hash, frame: body.subarray(at, at + length) });
    at += length;
  }
  return out;
}
