/**
 * TRANSFER: stream the snapshot from the source Glance into a new target Glance image. No
 * temporary file and memory independent of size: the download is piped through a hashing
 * meter (sha512 on a worker thread) straight into the upload, with backpressure end to end. The sha512 computed on the
 * way must equal the source's os_hash_value. When the target cloud does not take the source's
 * disk format, the image is converted on the target side instead (image-conversion.ts), and
 * a target that takes none of the formats it converts to fails the step before anything is made.
 */
import { ClonePhase, StepErrorCode } from '../../domain/clone-phase';
import { planDiskFormat } from '../../domain/disk-formats';
import { Image } from '../../ports/cloud-api.port';
import { ConversionSettings, DEFAULT_CONVERSION_SETTINGS, removeJobSpool } from '../../transfer/disk-conversion';
import { TransferHashMode } from '../../transfer/sha512-worker';
import { CloneContext, CloneStep, PermanentStepError } from '../clone-step';
import { convertAndUpload } from './image-conversion';
import { assertSourceDigest, hashedCopy } from './hashed-copy';

/** Image properties worth carrying to the copy; everything else (ids, stores, owner...) stays. */
const COPIED_PROPERTY = /^(hw_|os_(?!hash_)|architecture$|hypervisor_type$|vm_mode$|img_)/;

/**
 * `hashMode`: where the sha512 runs (a worker thread unless configured otherwise, see TRANSFER_HASH);
 * `conversion`: where a format conversion spools and how long qemu-img may take.
 */
export function transferStep(hashMode: TransferHashMode = 'worker', conversion: ConversionSettings = DEFAULT_CONVERSION_SETTINGS): CloneStep {
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

      // The target cloud's declared formats are checked before anything is created there.
      const plan = planDiskFormat(sourceImage.diskFormat, ctx.target.cloud.diskFormats ?? []);
      if (plan.kind === 'impossible') throw new PermanentStepError(StepErrorCode.DISK_FORMAT_UNSUPPORTED, `cloud ${ctx.target.cloud.name} ${plan.reason}`);

      let target = await findTargetImage(ctx);
      if (target?.status === 'active') {
        // Finished by an earlier attempt (a converted image has the hash of what was uploaded).
        if (target.hashValue && (target.hashValue === sourceImage.hashValue || target.hashValue === ctx.artefacts.targetImageHash)) return;
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
          diskFormat: plan.kind === 'convert' ? plan.to : (sourceImage.diskFormat ?? 'qcow2'),
          containerFormat: sourceImage.containerFormat ?? 'bare',
          properties: { ...properties, ...ctx.tags, intercloud_role: 'target', intercloud_source_hash: sourceImage.hashValue ?? '' },
        });
        await ctx.checkpoint({ targetImageId: target.id });
      }
      if (plan.kind === 'convert') {
        await convertAndUpload(ctx, { sourceImage, targetImageId: target.id, from: plan.from, to: plan.to, hashMode, settings: conversion });
        return;
      }
      const download = await ctx.source.api.downloadImage(sourceImage.id, ctx.signal);
      const total = download.size ?? sourceImage.size;
      const { digest } = await hashedCopy(download.stream, total, hashMode, (body) => ctx.target.api.uploadImage(target.id, body, total, ctx.signal), (bytes) =>
        ctx.progress(bytes, total),
      );
      await ctx.progressSettled();
      assertSourceDigest(ctx, sourceImage, digest);
      ctx.log.info({ targetImageId: target.id, bytes: sourceImage.size }, 'image transferred and verified');
    },

    /** The checkpointed target image and any other the job's tag finds. */
    async undo(ctx) {
      const ids = new Set((await taggedTargetImages(ctx)).map((i) => i.id));
      if (ctx.artefacts.targetImageId) ids.add(ctx.artefacts.targetImageId);
      for (const id of ids) await ctx.target.api.deleteImage(id);
      await removeJobSpool(conversion, ctx.job.id);
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

