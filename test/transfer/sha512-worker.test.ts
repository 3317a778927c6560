/** The TRANSFER hasher on its worker thread gives crypto's sha512, whatever the chunking. */
import crypto from 'node:crypto';
import { BATCH_BYTES, Sha512Worker } from '../../src/transfer/sha512-worker';

const sha512 = (data: Uint8Array) => crypto.createHash('sha512').update(data).digest('hex');

/** Feeds `data` in chunks of the given sizes (cycled), waiting whenever the worker asks to. */
async function workerDigest(data: Buffer, chunkSizes: number[]): Promise<string> {
  const worker = new Sha512Worker();
  try {
    let offset = 0;
    for (let i = 0; offset < data.length; i++) {
      const n = Math.max(1, chunkSizes[i % chunkSizes.length]);
      await worker.update(data.subarray(offset, offset + n));
      offset += n;
    }
    return await worker.digest();
  } finally {
    await worker.close();
  }
}

describe('Sha512Worker', () => {
  const sizes = [0, 1, 127, 128, 129, 65_537, BATCH_BYTES - 1, BATCH_BYTES, BATCH_BYTES + 1, 3 * BATCH_BYTES, 5 * BATCH_BYTES + 12_345];

  it.each(sizes)('%i random bytes: the same digest as crypto, in odd chunks and in one piece', async (size) => {
    const data = crypto.randomBytes(size);
    expect(await workerDigest(data, [65_536, 1, 7_919, 250_001])).toBe(sha512(data));
    expect(await workerDigest(data, [Math.max(1, size)])).toBe(sha512(data));
  });

  it('reuses the caller-owned chunk freely: the bytes are copied before update returns', async () => {
    const worker = new Sha512Worker();
    const chunk = Buffer.alloc(300_000);
    const all: Buffer[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        crypto.randomFillSync(chunk);
        all.push(Buffer.from(chunk));
        await worker.update(chunk);
      }
      expect(await worker.digest()).toBe(sha512(Buffer.concat(all)));
    } finally {
      await worker.close();
    }
  });

  it('asks the caller to wait once batches pile up, and holds no more than that', async () => {
    const worker = new Sha512Worker();
    try {
      const big = crypto.randomBytes(BATCH_BYTES);
      let waits = 0;
      for (let i = 0; i < 16; i++) {
        const wait = worker.update(big);
        if (wait) {
          waits++;
          await wait;
        }
      }
      expect(waits).toBeGreaterThan(0);
      expect(await worker.digest()).toBe(sha512(Buffer.concat(Array(16).fill(big))));
    } finally {
      await worker.close();
    }
  });

  it('after close, update and digest refuse instead of hanging', async () => {
    const worker = new Sha512Worker();
    await worker.close();
    await expect(worker.update(Buffer.alloc(BATCH_BYTES))).rejects.toThrow(/closed/);
    await expect(worker.digest()).rejects.toThrow(/closed/);
  });
});
