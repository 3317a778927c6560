/**
 * Image data files of one cloud (`<dataDir>/images/<id>`), the equivalent of Glance's file
 * store. Writes go to a `.partial` file renamed on success, so a killed upload never leaves a
 * file that looks complete.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HashWorker } from './hash-worker';
import { writePseudoRandom } from './image-generator';
import { hashingTap, type ImageDigest } from './image-hashing';

export interface ReceiveOptions {
  signal?: AbortSignal;
  /** Stages between the source and the hasher (bandwidth throttle). */
  through?: Transform[];
  /** Called with the running byte count; throw to abort (size cap, injected fault). */
  onProgress?: (bytes: number) => void;
}

export class ImageFileStore {
  readonly dir: string;
  private readonly hashing = new HashWorker();

  constructor(cloudDataDir: string) {
    this.dir = path.join(cloudDataDir, 'images');
  }

  async init(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
  }

  pathOf(id: string): string {
    return path.join(this.dir, id);
  }

  async receive(id: string, source: Readable, options: ReceiveOptions = {}): Promise<ImageDigest> {
    const hasher = this.hashing.session();
    const partial = `${this.pathOf(id)}.partial`;
    try {
      await pipeline(
        [source, ...(options.through ?? []), hashingTap(hasher, options.onProgress), createWriteStream(partial, { highWaterMark: 1024 * 1024 })],
        options.signal ? { signal: options.signal } : {},
      );
      const digest = await hasher.digest();
      await fs.rename(partial, this.pathOf(id));
      return digest;
    } catch (err) {
      hasher.abort();
      await fs.rm(partial, { force: true });
      throw err;
    }
  }

  async generate(id: string, seed: string, size: number, signal?: AbortSignal): Promise<ImageDigest> {
    const partial = `${this.pathOf(id)}.partial`;
    const file = await fs.open(partial, 'w');
    const hasher = this.hashing.session();
    try {
      const digest = await writePseudoRandom(file, hasher, seed, size, signal);
      await file.close();
      await fs.rename(partial, this.pathOf(id));
      return digest;
    } catch (err) {
      hasher.abort();
      await file.close().catch(() => undefined);
      await fs.rm(partial, { force: true });
      throw err;
    }
  }

  /** Copies a local file in (one pass: read, hash, write), never loading it whole. */
  importFile(id: string, file: string, signal?: AbortSignal): Promise<ImageDigest> {
    return this.receive(id, createReadStream(file, { highWaterMark: 1024 * 1024 }), { signal });
  }

  read(id: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.pathOf(id), { ...range, highWaterMark: 256 * 1024 });
  }

  /** Stops the hashing worker (cloud stop). */
  close(): Promise<void> {
    return this.hashing.close();
  }

  async remove(id: string): Promise<void> {
    await fs.rm(this.pathOf(id), { force: true });
    await fs.rm(`${this.pathOf(id)}.partial`, { force: true });
  }
}
