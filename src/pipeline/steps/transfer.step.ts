/**
 * TRANSFER: stream the snapshot from the source Glance into a new target Glance image. No
 * temporary file and memory independent of size: the download is piped through a hashing
 * meter (sha512 on a worker thread) straight into the upload, with backpressure end to end. The sha512 computed on the
 * way must equal the source's os_hash_value.
 */
import { pipeline, Transform } from 'node:stream';
import { ClonePhase, StepErrorCode } from '../../domain/clone-phase';
import { Image } from '../../ports/cloud-api.port';
import { TransferHashMode, createSha512Hasher } from '../../transfer/sha512-worker';
import { CloneContext, CloneStep, PermanentStepError } from '../clone-step';

/** Image properties worth carrying to the copy; everything else (ids, stores, owner...) stays. */
const COPIED_PROPERTY = /^(hw_|os_(?!hash_)|architecture$|hypervisor_type$|vm_mode$|img_)/;

/** `hashMode`: where the sha512 runs (a worker thread unless configured otherwise, see TRANSFER_HASH). */
export function transferStep(hashMode: TransferHashMode = 'worker'): CloneStep {
  return {
    phase: ClonePhase.TRANSFER,
    applies: (ctx) => !ctx.intraCloud,

    async run(ctx) {
      const src = ctx.source.api;
      const dst = ctx.target.api;
      const sourceImage = await src.getImage(ctx.artefacts.snapshotImageId!);
      if (!sourceImage || sourceImage.status !== 'active') {
        throw new PermanentStepError(StepErrorCode.SNAPSHOT_FAILED, `snapshot image ${ctx.artefacts.snapshotImageId} is no longer active`);
      }

      let target = await findTargetImage(ctx);
      if (target?.status === 'active') {
        if (target.hashValue === sourceImage.hashValue) return; // finished by an earlier attempt
        await dst.deleteImage(target.id);
        target = null;
      } else if (target && target.status !== 'queued') {
        // A half-written upload cannot be resumed: start this image again.
        await dst.deleteImage(target.id);
        target = null;
      }
      if (!target) {
        const properties = Object.fromEntries(Object.entries(sourceImage.properties).filter(([k]) => COPIED_PROPERTY.test(k)));
        target = await dst.createImage({
          name: ctx.job.name,
          diskFormat: sourceImage.diskFormat ?? 'qcow2',
          containerFormat: sourceImage.containerFormat ?? 'bare',
          properties: { ...properties, ...ctx.tags, intercloud_role: 'target', intercloud_source_hash: sourceImage.hashValue ?? '' },
        });
        await ctx.checkpoint({ targetImageId: target.id });
      }
      const digest = await relay(ctx, sourceImage, target.id, hashMode);
      if (digest !== sourceImage.hashValue) {
        throw new PermanentStepError(
          StepErrorCode.CHECKSUM_MISMATCH,
          `sha512 of the bytes streamed from cloud ${ctx.source.cloud.name} (${digest.slice(0, 16)}...) differs from the source image's os_hash_value (${String(sourceImage.hashValue).slice(0, 16)}...)`,
        );
      }
      ctx.log.info({ targetImageId: target.id, bytes: sourceImage.size }, 'image transferred and verified');
    },

    /** The checkpointed target image and any other the job's tag finds. */
    async undo(ctx) {
      const ids = new Set((await taggedTargetImages(ctx)).map((i) => i.id));
      if (ctx.artefacts.targetImageId) ids.add(ctx.artefacts.targetImageId);
      for (const id of ids) await ctx.target.api.deleteImage(id);
    },
  };
}

/**
 * The job's target image: the checkpointed one while it exists, else one the job's tag finds
 * (an attempt that died between creating it and its checkpoint), which is then checkpointed so
 * that IMPORT and BOOT know it.
 */
async function findTargetImage(ctx: CloneContext): Promise<Image | null> {
  const checkpointed = ctx.artefacts.targetImageId;
  if (checkpointed) {
    const image = await ctx.target.api.getImage(checkpointed);
    if (image && image.status !== 'deleted') return image;
  }
  const found = (await taggedTargetImages(ctx)).find((i) => i.id !== checkpointed && i.status !== 'deleted' && i.status !== 'killed');
  if (found) await ctx.checkpoint({ targetImageId: found.id });
  return found ?? null;
}

function taggedTargetImages(ctx: CloneContext): Promise<Image[]> {
  return ctx.target.api.listImages({ properties: { intercloud_job: ctx.job.id, intercloud_role: 'target' } });
}

/**
 * Download -> sha512 + byte meter -> upload; resolves with the hex digest of what went through.
 * The meter holds the stream while the hasher is behind, so memory stays bounded whichever
 * side (upload, hashing) is the slower.
 */
async function relay(ctx: CloneContext, sourceImage: Image, targetImageId: string, hashMode: TransferHashMode): Promise<string> {
  const download = await ctx.source.api.downloadImage(sourceImage.id, ctx.signal);
  const total = download.size ?? sourceImage.size;
  const hasher = createSha512Hasher(hashMode);
  try {
    let bytes = 0;
    let hashError: Error | null = null;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        const wait = hasher.update(chunk);
        bytes += chunk.length;
        ctx.progress(bytes, total);
        if (wait) wait.then(() => done(null, chunk), (err: Error) => done((hashError = err)));
        else done(null, chunk);
      },
    });
    let pipeError: Error | null = null;
    const body = pipeline(download.stream, meter, (err) => {
      if (err) pipeError = err;
    });
    try {
      await ctx.target.api.uploadImage(targetImageId, body, total, ctx.signal);
    } catch (err) {
      // The upload's own error says what happened; the pipe then only reports a premature close.
      // Unless hashing failed first: then the upload only saw its body end early.
      download.stream.destroy();
      throw hashError ?? err;
    }
    if (pipeError) throw pipeError;
    ctx.progress(bytes, total);
    await ctx.progressSettled();
    if (total !== null && bytes !== total) {
      throw new PermanentStepError(StepErrorCode.CHECKSUM_MISMATCH, `streamed ${bytes} bytes but the source image has ${total}`);
    }
    return await hasher.digest();
  } finally {
    await hasher.close();
  }
}
