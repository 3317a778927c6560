/**
 * Server disks as real bytes: a server's disk is its boot image (a hard link to the immutable
 * image file, so booting a 4 GiB image costs nothing) followed by a per-server delta standing
 * for what the guest wrote at runtime. A snapshot streams base + delta, so it is real, distinct
 * content whose checksums can be verified independently.
 */
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pseudoRandomBuffer } from '../glance/image-generator';

/** Size of the runtime delta appended to every server's disk. */
export const SERVER_DELTA_BYTES = 64 * 1024;

/** The delta a server's disk carries: deterministic, so tests can predict a snapshot's hash. */
export function serverDeltaBytes(serverId: string): Buffer {
  return pseudoRandomBuffer(`server-disk-delta:${serverId}`, SERVER_DELTA_BYTES);
}

export class ServerDiskStore {
  readonly dir: string;

  constructor(cloudDataDir: string) {
    this.dir = path.join(cloudDataDir, 'servers');
  }

  async init(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
  }

  private paths(serverId: string): { base: string; delta: string } {
    return { base: path.join(this.dir, `${serverId}.base`), delta: path.join(this.dir, `${serverId}.delta`) };
  }

  async create(serverId: string, imageFile: string): Promise<void> {
    const { base, delta } = this.paths(serverId);
    try {
      await fs.link(imageFile, base);
    } catch {
      // Another filesystem or no hard links: a reflink/copy keeps the semantics, just slower.
      await fs.copyFile(imageFile, base, fs.constants.COPYFILE_FICLONE);
    }
    await fs.writeFile(delta, serverDeltaBytes(serverId));
  }

  /** The whole disk, base then delta, as one stream. */
  read(serverId: string): Readable {
    const { base, delta } = this.paths(serverId);
    async function* concat(): AsyncGenerator<Buffer> {
      for (const file of [base, delta]) {
        for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) yield chunk as Buffer;
      }
    }
    return Readable.from(concat());
  }

  async size(serverId: string): Promise<number> {
    const { base, delta } = this.paths(serverId);
    const [a, b] = await Promise.all([fs.stat(base), fs.stat(delta)]);
    return a.size + b.size;
  }

  async exists(serverId: string): Promise<boolean> {
    return fs.stat(this.paths(serverId).delta).then(
      () => true,
      () => false,
    );
  }

  async remove(serverId: string): Promise<void> {
    const { base, delta } = this.paths(serverId);
    await Promise.all([fs.rm(base, { force: true }), fs.rm(delta, { force: true })]);
  }
}
