/**
 * Deterministic pseudo-random image content, fast enough for multi-GiB benchmark images:
 * an AES-256-CTR keystream (hardware-accelerated, GB/s) keyed by the seed, written in 4 MiB
 * blocks. The same seed and size always give the same bytes, so tests can recompute hashes.
 */
import { createCipheriv, createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { HashSession } from './hash-worker';
import type { ImageDigest } from './image-hashing';

const BLOCK = 4 * 1024 * 1024;

/** Yields the content in blocks; the last block is shorter when size is not a multiple of 4 MiB. */
export function* pseudoRandomBlocks(seed: string, size: number): Generator<Buffer> {
  const key = createHash('sha256').update(`sandbox-image:${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(BLOCK);
  for (let done = 0; done < size; done += BLOCK) {
    const n = Math.min(BLOCK, size - done);
    yield cipher.update(n === BLOCK ? zeros : zeros.subarray(0, n));
  }
}

/** Writes `size` bytes of the seed's content to an open file, hashing as it goes. */
export async function writePseudoRandom(file: FileHandle, hasher: HashSession, seed: string, size: number, signal?: AbortSignal): Promise<ImageDigest> {
  for (const block of pseudoRandomBlocks(seed, size)) {
    signal?.throwIfAborted();
    // Hashing (worker) and writing (libuv pool) overlap with generating the next block.
    await Promise.all([hasher.update(block), file.write(block)]);
  }
  return hasher.digest();
}

/** The same content as a Buffer, for tests and small deltas only. */
export function pseudoRandomBuffer(seed: string, size: number): Buffer {
  return Buffer.concat([...pseudoRandomBlocks(seed, size)]);
}
