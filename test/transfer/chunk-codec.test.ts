/**
 * The chunk codec on its worker pool: round trips of every kind of chunk, a whole span in one
 * call, a damaged or substituted frame refused, and the batch format's bounds.
 */
import { randomBytes } from 'node:crypto';
import * as zstd from '@mongodb-js/zstd';
import {
  BatchFormatError,
  CHUNK_BYTES,
  ChunkCodecPool,
  ChunkIntegrityError,
  FRAME_RAW,
  FRAME_ZSTD,
  MAX_BATCH_BYTES,
  MAX_FRAME_BYTES,
  SPAN_BYTES,
  chunkHash,
  packBatch,
  unpackBatch,
  zstdFrameBound,
} from '../../src/transfer/chunk-codec';

let pool: ChunkCodecPool;
beforeAll(() => {
  pool = new ChunkCodecPool(2);
});
afterAll(() => pool.close());

async function roundTrip(raw: Buffer) {
  const original = Buffer.from(raw); // encode takes the memory over
  const chunk = await pool.encode(raw);
  if (chunk.zero) return { chunk, back: null, original };
  const back = await pool.decode(Buffer.from(chunk.frame), chunk.hash, original.length);
  return { chunk, back, original };
}

describe('chunk codec', () => {
  it('turns an all-zero chunk (full or partial) into a marker', async () => {
    for (const size of [CHUNK_BYTES, 1000, 1]) {
      const { chunk } = await roundTrip(Buffer.alloc(size));
      expect(chunk).toEqual({ zero: true, size });
    }
  });

  it('compresses a compressible chunk and gets the same bytes back', async () => {
    const raw = Buffer.alloc(CHUNK_BYTES);
    for (let i = 0; i < raw.length; i += 4096) raw.write(`block ${i} of a filesystem full of text `, i);
    const { chunk, back, original } = await roundTrip(raw);
    if (chunk.zero) throw new Error('not zero');
    expect(chunk.hash).toBe(chunkHash(original));
    expect(chunk.frame[0]).toBe(FRAME_ZSTD);
    expect(chunk.frame.length).toBeLessThan(original.length / 10);
    expect(back!.equals(original)).toBe(true);
  });

  it('carries an incompressible chunk raw, one byte bigger', async () => {
    const { chunk, back, original } = await roundTrip(randomBytes(CHUNK_BYTES));
    if (chunk.zero) throw new Error('not zero');
    expect(chunk.frame[0]).toBe(FRAME_RAW);
    expect(chunk.frame.length).toBe(CHUNK_BYTES + 1);
    expect(back!.equals(original)).toBe(true);
  });

  it('round-trips a tiny chunk and a last partial chunk', async () => {
    for (const raw of [Buffer.from([7]), Buffer.concat([randomBytes(1234), Buffer.alloc(50_000, 3)])]) {
      const { chunk, back, original } = await roundTrip(raw);
      expect(chunk.zero).toBe(false);
      expect(back!.equals(original)).toBe(true);
    }
  });

  it('round-trips a large image cut into chunks, many at once on the pool', async () => {
    const image = Buffer.concat([randomBytes(CHUNK_BYTES), Buffer.alloc(CHUNK_BYTES), Buffer.alloc(CHUNK_BYTES, 0x41), randomBytes(CHUNK_BYTES / 3)]);
    const pieces = [];
    for (let at = 0; at < image.length; at += CHUNK_BYTES) pieces.push(Buffer.from(image.subarray(at, at + CHUNK_BYTES)));
    const chunks = await Promise.all(pieces.map((p) => pool.encode(p)));
    expect(chunks.map((c) => c.zero)).toEqual([false, true, false, false]);
    const back = await Promise.all(chunks.map((c) => (c.zero ? Buffer.alloc(c.size) : pool.decode(c.frame, c.hash, c.size))));
    expect(Buffer.concat(back).equals(image)).toBe(true);
  });

  it('refuses a corrupted frame, a frame under another name, and a wrong size', async () => {
    const raw = Buffer.alloc(CHUNK_BYTES, 0x55);
    raw.write('some data', 100);
    const chunk = await pool.encode(raw);
    if (chunk.zero) throw new Error('not zero');
    const flipped = Buffer.from(chunk.frame);
    flipped[flipped.length - 3] ^= 0xff;
    await expect(pool.decode(flipped, chunk.hash)).rejects.toBeInstanceOf(ChunkIntegrityError);
    const other = await pool.encode(Buffer.alloc(CHUNK_BYTES, 0x56));
    if (other.zero) throw new Error('not zero');
    await expect(pool.decode(Buffer.from(other.frame), chunk.hash)).rejects.toThrow(/does not match/);
    await expect(pool.decode(Buffer.from(chunk.frame), chunk.hash, 10)).rejects.toThrow(/expected 10/);
    await expect(pool.decode(Buffer.from([9, 1, 2]), chunk.hash)).rejects.toThrow(/unknown frame tag/);
    // The intact frame still decodes: the refusals did not break the pool.
    expect((await pool.decode(Buffer.from(chunk.frame), chunk.hash)).length).toBe(CHUNK_BYTES);
  });

  it('refuses a decompression bomb before decoding it: a frame whose blocks may regenerate more than a chunk', async () => {
    // 64 MiB of one byte value compresses to about 2 KiB: small enough for any frame bound, ruinous if decoded.
    const bomb = await zstd.compress(Buffer.alloc(64 * 1024 * 1024, 1), 1);
    expect(bomb.length).toBeLessThan(MAX_FRAME_BYTES);
    const frame = Buffer.concat([Buffer.from([FRAME_ZSTD]), bomb]);
    await expect(pool.decode(frame, chunkHash(Buffer.alloc(CHUNK_BYTES, 1)))).rejects.toThrow(/may decode to more than/);
    // Two frames in one, a cut-short frame and a non-zstd body are refused the same way.
    const one = await zstd.compress(Buffer.alloc(CHUNK_BYTES, 2), 1);
    const hash = chunkHash(Buffer.alloc(CHUNK_BYTES, 2));
    await expect(pool.decode(Buffer.concat([Buffer.from([FRAME_ZSTD]), one, one]), hash)).rejects.toThrow(/bytes after the frame/);
    await expect(pool.decode(Buffer.concat([Buffer.from([FRAME_ZSTD]), one.subarray(0, one.length - 2)]), hash)).rejects.toThrow(/cut short/);
    await expect(pool.decode(Buffer.from([FRAME_ZSTD, 1, 2, 3, 4, 5, 6, 7]), hash)).rejects.toBeInstanceOf(ChunkIntegrityError);
    // What our own encoder makes stays within the bound and decodes.
    expect(zstdFrameBound(one, CHUNK_BYTES + 128 * 1024)).toBeGreaterThanOrEqual(CHUNK_BYTES);
    expect((await pool.decode(Buffer.concat([Buffer.from([FRAME_ZSTD]), one]), hash)).equals(Buffer.alloc(CHUNK_BYTES, 2))).toBe(true);
  });

  it('encodes a span as its chunks in order, the same as one by one, a partial last one included', async () => {
    const span = Buffer.concat([randomBytes(CHUNK_BYTES), Buffer.alloc(2 * CHUNK_BYTES), Buffer.alloc(CHUNK_BYTES, 0x41), randomBytes(777)]);
    const original = Buffer.from(span);
    const { chunks, memory } = await pool.encodeSpan(span);
    // The span's memory comes back whole, for the reader to refill.
    expect(memory.equals(original)).toBe(true);
    expect(chunks.map((c) => [c.zero, c.size])).toEqual([
      [false, CHUNK_BYTES],
      [true, CHUNK_BYTES],
      [true, CHUNK_BYTES],
      [false, CHUNK_BYTES],
      [false, 777],
    ]);
    for (const [i, c] of chunks.entries()) {
      if (c.zero) continue;
      const raw = original.subarray(i * CHUNK_BYTES, i * CHUNK_BYTES + c.size);
      expect(c.hash).toBe(chunkHash(raw));
      expect((await pool.decode(Buffer.from(c.frame), c.hash, c.size)).equals(raw)).toBe(true);
    }
    expect(SPAN_BYTES % CHUNK_BYTES).toBe(0);
  });

  it('packs and unpacks a batch, and refuses one cut short, with a frame out of bounds, or too big', async () => {
    const a = await pool.encode(randomBytes(CHUNK_BYTES));
    const b = await pool.encode(Buffer.alloc(CHUNK_BYTES, 0x42));
    if (a.zero || b.zero) throw new Error('not zero');
    const body = packBatch([a, b]);
    const back = unpackBatch(body);
    expect(back.map((c) => c.hash)).toEqual([a.hash, b.hash]);
    expect(back[0].frame.equals(a.frame)).toBe(true);
    expect(back[1].frame.equals(b.frame)).toBe(true);
    expect(unpackBatch(Buffer.alloc(0))).toEqual([]);
    expect(() => unpackBatch(body.subarray(0, body.length - 1))).toThrow(/cut short in its frame/);
    expect(() => unpackBatch(body.subarray(0, 20))).toThrow(/cut short in its header/);
    const empty = Buffer.from(body.subarray(0, 36));
    empty.writeUInt32BE(0, 32);
    expect(() => unpackBatch(empty)).toThrow(BatchFormatError);
    const huge = Buffer.from(body.subarray(0, 36));
    huge.writeUInt32BE(MAX_FRAME_BYTES + 1, 32);
    expect(() => unpackBatch(huge)).toThrow(/a frame is 1 to/);
    // More frame bytes than a batch may carry: refused even though every entry is well formed.
    const many = Math.floor(MAX_BATCH_BYTES / a.frame.length) + 1;
    expect(() => unpackBatch(packBatch(Array.from({ length: many }, () => a)))).toThrow(/at most \d+ (frame )?bytes/);
  });
});
