/**
 * Glance's checksums computed while bytes flow (md5 `checksum`, sha512 `os_hash_value`), so an
 * image of several GiB is never held in memory or read twice. The hashing itself runs on a
 * worker thread (hash-worker.ts).
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { HashSession } from './hash-worker';

export interface ImageDigest {
  size: number;
  md5: string;
  sha512: string;
}

/**
 * A pass-through that feeds a hash session, holding the stream back while the hasher is
 * behind; `onChunk` may throw to abort the pipeline (injected faults).
 */
export function hashingTap(session: HashSession, onChunk?: (total: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
      const wait = session.update(chunk);
      try {
        onChunk?.(session.bytes);
      } catch (err) {
        done(err as Error);
        return;
      }
      if (wait) void wait.then(() => done(null, chunk));
      else done(null, chunk);
    },
  });
}
