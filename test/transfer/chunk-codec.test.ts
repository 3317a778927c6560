/**
 * The chunk codec on its worker pool: round trips of every kind of chunk, a whole span in one
 * call, a damaged or substituted frame refused, and the batch format's bounds; the content-defined
 * boundaries: sizes within bounds, zero runs as identical markers, the same cuts in the worker as
 * here and for a span read alone, and an input shifted by a few bytes still deduplicating.
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import * as zstd from '@mongodb-js/zstd';
import {
  BatchFormatError,
  AVG_CHUNK_BYTES,
  ChunkCodecPool,
  ChunkIntegrityError,
  FRAME_RAW,
  FRAME_ZSTD,
  MAX_BATCH_BYTES,
  MAX_CHUNK_BYTES,
  MAX_FRAME_BYTES,
  MIN_CHUNK_BYTES,
  SPAN_BYTES,
  chunkHash,
  chunkLengths,
  packBatch,
  unpackBatch,
  zstdFrameBound,
} from '../../src/transfer/chunk-codec';
import { manifestProblem } from '../../src/transfer/chunk-transfer';
import { GEAR } from '../../src/transfer/gear-table';

const CHUNK_BYTES = AVG_CHUNK_BYTES;

/** Bytes that look random but are the same every run (AES-256-CTR of zeros, keyed by the seed), so a boundary test never flakes. */
function pseudoRandom(length: number, seed: string): Buffer {
  const key = createHash('sha256').update(seed).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length));
}

/** Text-like bytes (compressible, yet every region distinct), as files in an image are. */
function textLike(length: number, seed: string): Buffer {
  const out = Buffer.alloc(length);
  const r = pseudoRandom(length / 8, seed);
  for (let at = 0, i = 0; at < length; i++) {
    const line = `${seed} line ${i} value=${r.readUInt32BE((i * 4) % (r.length - 4))} path=/usr/share/doc/${r[i % r.length]}\n`;
    at += out.write(line, at);
  }
  return out;
}

/** The chunks of `data` cut span by span, as the engine cuts an image. */
function cutImage(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let start = 0; start < data.length; start += SPAN_BYTES) {
    const span = data.subarray(start, Math.min(data.length, start + SPAN_BYTES));
    let at = 0;
    for (const length of chunkLengths(span)) {
      out.push(span.subarray(at, at + length));
      at += length;
    }
  }
  return out;
}

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
    const span = Buffer.concat([randomBytes(CHUNK_BYTES), Buffer.alloc(3 * MAX_CHUNK_BYTES), Buffer.alloc(CHUNK_BYTES, 0x41), randomBytes(777)]);
    const original = Buffer.from(span);
    const { chunks, memory } = await pool.encodeSpan(span);
    // The span's memory comes back whole, for the reader to refill.
    expect(memory.equals(original)).toBe(true);
    // The worker cut where chunkLengths cuts here, and the chunks cover the span exactly.
    expect(chunks.map((c) => c.size)).toEqual(chunkLengths(original));
    expect(chunks.reduce((sum, c) => sum + c.size, 0)).toBe(original.length);
    let at = 0;
    for (const c of chunks) {
      const raw = original.subarray(at, at + c.size);
      at += c.size;
      if (c.zero) {
        expect(raw.every((b) => b === 0)).toBe(true);
        continue;
      }
      expect(c.hash).toBe(chunkHash(raw));
      expect((await pool.decode(Buffer.from(c.frame), c.hash, c.size)).equals(raw)).toBe(true);
    }
    expect(chunks.some((c) => c.zero)).toBe(true);
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

describe('content-defined boundaries', () => {
  it('uses the gear table derived from sha256, unchanged (a new table would dedup nothing against stores already filled)', () => {
    expect(GEAR).toHaveLength(256);
    GEAR.forEach((g, i) => expect(g).toBe(createHash('sha256').update(`intercloud-gear-v1:${i}`).digest().readUInt32BE(0)));
  });

  it('cuts chunks of MIN to MAX bytes (the last may be shorter) that add up to the input, around the average', () => {
    for (const data of [pseudoRandom(8 * SPAN_BYTES, 'sizes'), textLike(2 * SPAN_BYTES, 'sizes')]) {
      const lengths = chunkLengths(data);
      expect(lengths.reduce((a, b) => a + b, 0)).toBe(data.length);
      for (const l of lengths.slice(0, -1)) {
        expect(l).toBeGreaterThanOrEqual(MIN_CHUNK_BYTES);
        expect(l).toBeLessThanOrEqual(MAX_CHUNK_BYTES);
      }
      const mean = data.length / lengths.length;
      expect(mean).toBeGreaterThan(AVG_CHUNK_BYTES / 2);
      expect(mean).toBeLessThan(AVG_CHUNK_BYTES * 2);
    }
    // Tiny and empty inputs: one chunk, or none.
    expect(chunkLengths(Buffer.from([1]))).toEqual([1]);
    expect(chunkLengths(Buffer.alloc(MIN_CHUNK_BYTES, 7))).toEqual([MIN_CHUNK_BYTES]);
    expect(chunkLengths(Buffer.alloc(0))).toEqual([]);
  });

  it('cuts a zero run into identical MAX-size chunks, each sent as a marker', async () => {
    expect(chunkLengths(Buffer.alloc(SPAN_BYTES))).toEqual(new Array(SPAN_BYTES / MAX_CHUNK_BYTES).fill(MAX_CHUNK_BYTES));
    const { chunks } = await pool.encodeSpan(Buffer.alloc(SPAN_BYTES));
    expect(chunks).toEqual(new Array(SPAN_BYTES / MAX_CHUNK_BYTES).fill({ zero: true, size: MAX_CHUNK_BYTES }));
    // Data, then zeros: past the data's last chunk the zeros are whole markers again.
    const mixed = await pool.encodeSpan(Buffer.concat([pseudoRandom(300_000, 'mixed'), Buffer.alloc(SPAN_BYTES - 300_000)]));
    const zeroBytes = mixed.chunks.filter((c) => c.zero).reduce((sum, c) => sum + c.size, 0);
    expect(zeroBytes).toBeGreaterThan(SPAN_BYTES - 300_000 - 2 * MAX_CHUNK_BYTES);
  });

  it('round-trips a whole span of incompressible bytes and one of text, chunk by chunk', async () => {
    for (const original of [randomBytes(SPAN_BYTES), textLike(SPAN_BYTES, 'round')]) {
      const { chunks } = await pool.encodeSpan(Buffer.from(original));
      const back = await Promise.all(chunks.map((c) => (c.zero ? Buffer.alloc(c.size) : pool.decode(Buffer.from(c.frame), c.hash, c.size))));
      expect(Buffer.concat(back).equals(original)).toBe(true);
      for (const c of chunks) if (!c.zero) expect(c.frame.length).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    }
  });

  it('refuses to encode a chunk larger than MAX (its frame could not be decoded within the bomb bound)', async () => {
    await expect(pool.encode(randomBytes(MAX_CHUNK_BYTES + 1))).rejects.toThrow(/at most/);
    const { chunk, back, original } = await roundTrip(randomBytes(MAX_CHUNK_BYTES));
    expect(chunk.zero).toBe(false);
    expect(back!.equals(original)).toBe(true);
  });

  it('cuts a span the same wherever it is read: in a worker or here, alone or within a longer read', async () => {
    const image = Buffer.concat([textLike(SPAN_BYTES, 'det-a'), pseudoRandom(SPAN_BYTES, 'det-b'), textLike(SPAN_BYTES / 2 + 12345, 'det-c')]);
    const first = cutImage(image).map(chunkHash);
    expect(cutImage(Buffer.from(image)).map(chunkHash)).toEqual(first);
    // Each span through the worker pool, in parallel, gives the same chunks in the same order.
    const spans = [0, 1, 2].map((k) => Buffer.from(image.subarray(k * SPAN_BYTES, Math.min(image.length, (k + 1) * SPAN_BYTES))));
    const encoded = (await Promise.all(spans.map((s) => pool.encodeSpan(s)))).flatMap((r) => r.chunks);
    expect(encoded.map((c) => (c.zero ? 'zero' : c.hash))).toEqual(first);
    // Span ends are chunk ends: no chunk straddles two spans, whatever the content.
    let at = 0;
    const ends = new Set<number>();
    for (const c of cutImage(image)) ends.add((at += c.length));
    for (let k = 1; k * SPAN_BYTES < image.length; k++) expect(ends.has(k * SPAN_BYTES)).toBe(true);
  });

  it('finds most chunks again in an input shifted by a few bytes (inserted and removed)', async () => {
    const original = Buffer.concat([textLike(3 * SPAN_BYTES, 'shift'), pseudoRandom(3 * SPAN_BYTES, 'shift')]);
    for (const shifted of [
      Buffer.concat([original.subarray(0, 1_000_000), Buffer.from('seven b'), original.subarray(1_000_000)]),
      Buffer.concat([original.subarray(0, 123_456), original.subarray(123_456 + 1000)]),
      Buffer.concat([Buffer.from('x'), original]),
    ]) {
      const before = new Set(cutImage(original).map(chunkHash));
      const after = cutImage(shifted);
      const found = after.filter((c) => before.has(chunkHash(c))).reduce((sum, c) => sum + c.length, 0);
      // Lost: the chunk at the change and, per later span, the chunks at its two ends (its cuts move).
      expect(found / shifted.length).toBeGreaterThan(0.8);
      // Fixed 64 KiB chunks find nothing past the change.
      const fixed = (b: Buffer) => Array.from({ length: Math.ceil(b.length / CHUNK_BYTES) }, (_, i) => chunkHash(b.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES)));
      const fixedBefore = new Set(fixed(original));
      expect(fixed(shifted).filter((h) => fixedBefore.has(h)).length * CHUNK_BYTES).toBeLessThan(1_000_000 + CHUNK_BYTES);
    }
  });

  it('accepts only a manifest whose entries (a name or null, and a size of 1 to MAX) add up to the image', () => {
    const h = 'a'.repeat(64);
    expect(manifestProblem(5, [{ hash: h, size: 3 }, { hash: null, size: 2 }])).toBeNull();
    expect(manifestProblem(0, [])).toBeNull();
    expect(manifestProblem(4, [{ hash: h, size: 3 }])).toMatch(/add up to 3 bytes/);
    expect(manifestProblem(MAX_CHUNK_BYTES + 1, [{ hash: null, size: MAX_CHUNK_BYTES + 1 }])).toMatch(/size must be 1 to/);
    expect(manifestProblem(1, [{ hash: null, size: 0.5 }, { hash: null, size: 0.5 }])).toMatch(/size must be/);
    expect(manifestProblem(1, [{ hash: 'A'.repeat(64), size: 1 }])).toMatch(/sha256/);
    expect(manifestProblem(1, [h])).toMatch(/must be \{ hash, size \}/);
    expect(manifestProblem(1, 'x')).toMatch(/must be a list/);
  });
});
