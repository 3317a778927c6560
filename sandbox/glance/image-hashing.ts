/**
 * Glance's checksums computed while bytes flow (md5 `checksum`, sha512 `os_hash_value`), so an
 * image of several GiB is never held in memory or read twice.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export interface ImageDigest {
  size: number;
  md5: string;
  sha512: string;
}

export class ImageHasher {
  private readonly md5: Hash = createHash('md5');
  private readonly sha512: Hash = createHash('sha512');
  private size = 0;

  update(chunk: Buffer): void {
    this.md5.update(chunk);
    this.sha512.update(chunk);
    this.size += chunk.length;
  }

  get bytes(): number {
    return this.size;
  }

  digest(): ImageDigest {
    return { size: this.size, md5: this.md5.digest('hex'), sha512: this.sha512.digest('hex') };
  }
}

/** A pass-through that feeds a hasher; `onChunk` may throw to abort the pipeline (size caps, faults). */
export function hashingTap(hasher: ImageHasher, onChunk?: (total: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
      hasher.update(chunk);
      try {
        onChunk?.(hasher.bytes);
      } catch (err) {
        done(err as Error);
        return;
      }
      done(null, chunk);
    },
  });
}
