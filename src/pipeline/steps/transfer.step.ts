/**
 * TRANSFER: copy the snapshot from the source Glance into a new target Glance image, by one of
 * two engines (config.transfer.engine). The chunked engine (src/transfer) sends zero-skipped,
 * compressed chunks the target side's per-tenant store lacks, through the clouds' transfer agents
 * (or this process for a side without one); the target Glance's own os_hash_value must then
 * equal the source's. The relay (the baseline) streams the snapshot through this process. No
 * temporary file and memory independent of size: the download is piped through a hashing
 * meter (sha512 on a worker thread) straight into the upload, with backpressure end to end. The sha512 computed on the
 * way must equal the source's os_hash_value. When the target cloud does not take the source's
 * disk format, the image is converted on the target side instead: by the target cloud's transfer
 * agent when it has one (agent-conversion.ts), else in this process (image-conversion.ts), and
 * a target that takes none of the formats it converts to fails the step before anything is made.
 */
import { ClonePhase, StepErrorCode } from '../../domain/clone-phase';
import { planDiskFormat } from '../../domain/disk-formats';
import { Image } from '../../ports/cloud-api.port';
import { GlanceImageAccess, TransferStats, emptyStats } from '../../transfer/chunk-transfer';
import { ConversionSettings, DEFAULT_CONVERSION_SETTINGS, removeJobSpool } from '../../transfer/disk-conversion';
import { TransferHashMode } from '../../transfer/sha512-worker';
import { runChunkedTransfer } from '../../transfer/transfer-engine';
import { CloneContext, CloneStep, PermanentStepError, TransferEngineDeps, TransferSavings } from '../clone-step';
import { assertSourceDigest, hashedCopy } from './hashed-copy';
import { convertThroughTargetAgent } from './agent-conversion';
import { convertAndUpload } from './image-conversion';

/** Image properties worth carrying to the copy; everything else (ids, stores, owner...) stays. */
const COPIED_PROPERTY = /^(hw_|os_(?!hash_)|architecture$|hypervisor_type$|vm_mode$|img_)/;

/**
 * `hashMode`: where the relay's sha512 runs (a worker thread unless configured otherwise, see
 * TRANSFER_HASH); `engine`: the chunked engine's deps (without them, always the relay);
 * `conversion`: where a format conversion spools and how long qemu-img may take.
 */
export function transferStep(hashMode: TransferHashMode = 'worker', engine?: TransferEngineDeps, conversion: ConversionSettings = DEFAULT_CONVERSION_SETTINGS): CloneStep {
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
      // A conversion runs on the target cloud's transfer agent when it has one (the chunks go there
      // as usual and the agent converts what it rebuilt), else in this process on its spool.
      if (plan.kind === 'convert' && engine && sourceImage.size !== null && ctx.target.cloud.transferAgentUrl && usesChunks(ctx, engine)) {
        await convertThroughTargetAgent(ctx, { sourceImage, targetImageId: target.id, from: plan.from, to: plan.to, engine });
        return;
      }
      if (plan.kind === 'convert') {
        await convertAndUpload(ctx, { sourceImage, targetImageId: target.id, from: plan.from, to: plan.to, hashMode, settings: conversion });
        return;
      }
      if (engine && sourceImage.size !== null && usesChunks(ctx, engine)) {
        await chunked(ctx, sourceImage, target.id, engine);
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

/** `auto`: chunks when either cloud has an agent, else the relay (a one-broker install without agents). */
function usesChunks(ctx: CloneContext, engine: TransferEngineDeps): boolean {
  if (engine.engine === 'relay') return false;
  return engine.engine === 'chunked' || !!ctx.source.cloud.transferAgentUrl || !!ctx.target.cloud.transferAgentUrl;
}

export function savingsOf(s: TransferStats): TransferSavings {
  return { linkBytes: s.linkBytes, zeroBytes: s.zeroBytes, dedupBytes: s.dedupBytes, compressionRatio: s.linkBytes > 0 ? s.sentRawBytes / s.linkBytes : null };
}

/**
 * The chunked engine. A retry after a crash (of an agent or of this broker) resends only the
 * chunks the target side's store lacks. The target Glance hashes what it received; that hash,
 * not one computed here, is compared with the source's.
 */
async function chunked(ctx: CloneContext, sourceImage: Image, targetImageId: string, engine: TransferEngineDeps): Promise<void> {
  const sourceAgent = ctx.source.cloud.transferAgentUrl;
  const targetAgent = ctx.target.cloud.transferAgentUrl;
  const agentLabel = sourceAgent && targetAgent ? sourceAgent : 'broker';
  const local = await engine.local.get();
  let last = emptyStats(sourceImage.size!);
  ctx.log.info({ sourceAgent: sourceAgent ?? 'broker', targetAgent: targetAgent ?? 'broker' }, 'chunked transfer');
  const stats = await runChunkedTransfer({
    jobId: ctx.job.id,
    tenantId: ctx.job.tenantId,
    source: { cloudId: ctx.source.cloud.id, glance: await ctx.source.api.imageDataAccess(sourceImage.id), size: sourceImage.size!, agentUrl: sourceAgent },
    target: { cloudId: ctx.target.cloud.id, glance: await ctx.target.api.imageDataAccess(targetImageId), agentUrl: targetAgent, base: await baseImage(ctx, targetImageId, engine) },
    secret: engine.secret,
    local,
    signal: ctx.signal,
    onIndexed: (r) => {
      if (r instanceof Error) ctx.log.warn({ err: r }, 'indexing the base image in the target cloud failed; sending without it');
      else ctx.log.info({ ...r }, 'indexed the base image in the target cloud into the tenant\'s chunk store');
    },
    onProgress: (s) => {
      engine.record?.(ctx.job.id, agentLabel, deltaOf(last, s));
      last = s;
      ctx.progress(s.processedBytes, s.imageBytes, savingsOf(s));
    },
  });
  ctx.progress(stats.imageBytes, stats.imageBytes, savingsOf(stats));
  await ctx.progressSettled();
  const target = await ctx.target.api.getImage(targetImageId);
  if (!target || target.status !== 'active') throw new Error(`target image ${targetImageId} is ${target?.status ?? 'gone'} after its upload`);
  if (target.hashValue !== sourceImage.hashValue) {
    throw new PermanentStepError(
      StepErrorCode.CHECKSUM_MISMATCH,
      `cloud ${ctx.target.cloud.name} computed a sha512 (${String(target.hashValue).slice(0, 16)}...) for the rebuilt image that differs from the source image's os_hash_value (${String(sourceImage.hashValue).slice(0, 16)}...)`,
    );
  }
  ctx.log.info({ targetImageId, ...stats }, 'image transferred in chunks and verified by the target Glance');
}

/**
 * The newest active image the tenant already has in the target cloud for this VM type (a standby
 * or an earlier clone's copy, services/transfer-base-images.ts), for the target side to index
 * before the source sends: a repeat clone then sends only what changed even when the target's
 * chunk store was emptied. Null when there is none or the lookup fails (the transfer goes on).
 */
async function baseImage(ctx: CloneContext, targetImageId: string, engine: TransferEngineDeps): Promise<(GlanceImageAccess & { size: number }) | null> {
  if (!engine.baseImages || !ctx.job.vmTypeId) return null;
  try {
    const ids = await engine.baseImages({ tenantId: ctx.job.tenantId, vmTypeId: ctx.job.vmTypeId, cloudId: ctx.target.cloud.id, jobId: ctx.job.id });
    for (const id of ids) {
      if (id === targetImageId) continue;
      const image = await ctx.target.api.getImage(id);
      if (!image || image.status !== 'active' || image.size === null) continue;
      return { ...(await ctx.target.api.imageDataAccess(id)), size: image.size };
    }
  } catch (err) {
    ctx.log.warn({ err }, 'looking for a base image in the target cloud failed; sending without one');
  }
  return null;
}

export function deltaOf(a: TransferStats, b: TransferStats): TransferStats {
  const d = { ...b };
  for (const k of Object.keys(b) as (keyof TransferStats)[]) d[k] = Math.max(0, b[k] - a[k]);
  return d;
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

