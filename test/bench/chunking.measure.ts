/**
 * Which chunking dedups better on bench:transfer's own images: builds v1 and v2 exactly as
 * bench:transfer does (buildImages: `mkfs.ext4 -d` of /usr filling 60%, v2 a new mkfs after every
 * tenth file was rewritten), cuts both with each scheme, and prints, as shares of the image:
 *   first  = zstd level-1 bytes of v1's distinct non-zero chunks (what a first clone sends),
 *   repeat = zstd level-1 bytes of v2's distinct non-zero chunks v1 lacks (what a repeat sends),
 * with the chunk counts. No network, no agents: only the cutting differs between rows. The
 * engine's row is "cdc 16/64/256 per 4 MiB span" (chunk-codec.ts chunkLengths on each span).
 *
 *   npm run bench:chunking -- --size 128MiB [--size 512MiB]
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as zstd from '@mongodb-js/zstd';
import { cdcChunkLengths, CUT_MASK_AFTER_AVG, CUT_MASK_BEFORE_AVG, SPAN_BYTES } from '../../src/transfer/chunk-codec';
import { GEAR } from '../../src/transfer/gear-table';
import { fmtBytes, parseSize } from './clone.bench';
import { buildImages } from './transfer.bench';

const KiB = 1024;

interface Scheme {
  name: string;
  /** Chunk lengths of one piece (a span, or the whole image). */
  cut: (data: Uint8Array) => number[];
  /** Cut span by span (the engine) or the image as one piece (the unreachable ideal: no parallel reads). */
  perSpan: boolean;
}

const fixed = (size: number): Scheme => ({
  name: `fixed ${size / KiB} KiB`,
  perSpan: true,
  cut: (data) => {
    const out: number[] = [];
    for (let at = 0; at < data.length; at += size) out.push(Math.min(size, data.length - at));
    return out;
  },
});

/** Masks for an average of 2^bits: normalized level 2 (2 bits harder before the average, 2 easier after). */
const topBits = (n: number) => (0xffffffff << (32 - n)) | 0;
const cdc = (minK: number, avgK: number, maxK: number, perSpan: boolean): Scheme => {
  const bits = Math.log2(avgK * KiB);
  const engine = minK === 16 && avgK === 64 && maxK === 256;
  const before = engine ? CUT_MASK_BEFORE_AVG : topBits(bits + 2);
  const after = engine ? CUT_MASK_AFTER_AVG : topBits(bits - 2);
  return {
    name: `cdc ${minK}/${avgK}/${maxK} ${perSpan ? 'per 4 MiB span' : 'whole image'}`,
    perSpan,
    cut: (data) => cdcChunkLengths(data, GEAR, minK * KiB, avgK * KiB, maxK * KiB, before, after),
  };
};

function chunksOf(image: Buffer, scheme: Scheme): Buffer[] {
  const out: Buffer[] = [];
  const pieces = scheme.perSpan ? Math.ceil(image.length / SPAN_BYTES) : 1;
  for (let p = 0; p < pieces; p++) {
    const piece = scheme.perSpan ? image.subarray(p * SPAN_BYTES, Math.min(image.length, (p + 1) * SPAN_BYTES)) : image;
    let at = 0;
    for (const length of scheme.cut(piece)) {
      out.push(piece.subarray(at, at + length));
      at += length;
    }
  }
  return out;
}

const isZero = (b: Buffer) => b.every((x) => x === 0);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Distinct non-zero chunks: hash -> raw bytes. */
function distinct(chunks: Buffer[]): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const c of chunks) if (!isZero(c)) out.set(sha(c), c);
  return out;
}

async function packed(chunks: Iterable<Buffer>): Promise<number> {
  let n = 0;
  for (const c of chunks) n += Math.min(c.length, (await zstd.compress(c, 1)).length) + 1;
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { size: { type: 'string', multiple: true } } });
  const sizes = (values.size ?? ['128MiB']).map(parseSize);
  const schemes = [fixed(64 * KiB), fixed(4 * KiB), cdc(16, 64, 256, true), cdc(16, 64, 256, false), cdc(8, 32, 128, true), cdc(32, 128, 512, true), cdc(4, 16, 64, true)];
  for (const size of sizes) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-chunking-'));
    try {
      const images = buildImages(dir, size);
      const v1 = fs.readFileSync(images.v1);
      const v2 = fs.readFileSync(images.v2);
      console.log(`\n${fmtBytes(size)} image: ${images.files} files, ${images.changedFiles} rewritten (${fmtBytes(images.changedBytes)}, ${(images.changedBytes / size).toFixed(3)} of the image)`);
      console.log('scheme                          first   repeat   chunks v1   avg non-zero chunk');
      for (const scheme of schemes) {
        const c1 = chunksOf(v1, scheme);
        const c2 = chunksOf(v2, scheme);
        const d1 = distinct(c1);
        const d2 = distinct(c2);
        const news = [...d2].filter(([h]) => !d1.has(h)).map(([, c]) => c);
        const first = (await packed(d1.values())) / size;
        const repeat = (await packed(news)) / size;
        const nonZero = c1.filter((c) => !isZero(c));
        const avg = nonZero.reduce((s, c) => s + c.length, 0) / Math.max(1, nonZero.length);
        console.log(`${scheme.name.padEnd(30)}  ${first.toFixed(3)}   ${repeat.toFixed(3)}    ${String(c1.length).padStart(8)}   ${(avg / KiB).toFixed(1)} KiB`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
