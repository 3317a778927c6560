/**
 * A stream copied into a sink through a sha512 + byte meter: the TRANSFER step's relay (download
 * -> upload) and the legs of a format conversion (download -> spool file, converted file ->
 * upload). The meter holds the stream while the hasher is behind, so memory stays bounded
 * whichever side (sink, hashing) is the slower.
 */
import { pipeline, Readable, Transform } from 'node:stream';
import { StepErrorCode } from '../../domain/clone-phase';
import { TransferHashMode, createSha512Hasher } from '../../transfer/sha512-worker';
import { Image } from '../../ports/cloud-api.port';
import { CloneContext, PermanentStepError } from '../clone-step';

/** Resolves with the hex sha512 and the count of the bytes that went through; `total` (when known) must match the count. */
export async function hashedCopy(
  source: Readable,
  total: number | null,
  hashMode: TransferHashMode,
  sink: (body: Readable) => Promise<void>,
  onBytes: (bytes: number) => void,
): Promise<{ digest: string; bytes: number }> {
  const hasher = createSha512Hasher(hashMode);
  try {
    let bytes = 0;
    let hashError: Error | null = null;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        const wait = hasher.update(chunk);
        bytes += chunk.length;
        onBytes(bytes);
        if (wait) wait.then(() => done(null, chunk), (err: Error) => done((hashError = err)));
        else done(null, chunk);
      },
    });
    let pipeError: Error | null = null;
    const body = pipeline(source, meter, (err) => {
      if (err) pipeError = err;
    });
    try {
      await sink(body);
    } catch (err) {
      // The sink's own error says what happened; the pipe then only reports a premature close.
      // Unless hashing failed first: then the sink only saw its body end early.
      source.destroy();
      throw hashError ?? err;
    }
    if (pipeError) throw pipeError;
    onBytes(bytes);
    if (total !== null && bytes !== total) {
      throw new PermanentStepError(StepErrorCode.CHECKSUM_MISMATCH, `streamed ${bytes} bytes but the source has ${total}`);
    }
    return { digest: await hasher.digest(), bytes };
  } finally {
    await hasher.close();
  }
}

/** The sha512 of what came from the source Glance must be its os_hash_value. */
export function assertSourceDigest(ctx: CloneContext, sourceImage: Image, digest: string): void {
  if (digest !== sourceImage.hashValue) {
    throw new PermanentStepError(
      StepErrorCode.CHECKSUM_MISMATCH,
      `sha512 of the bytes streamed from cloud ${ctx.source.cloud.name} (${digest.slice(0, 16)}...) differs from the source image's os_hash_value (${String(sourceImage.hashValue).slice(0, 16)}...)`,
    );
  }
}
