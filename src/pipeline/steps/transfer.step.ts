/**
 * TRANSFER: copy the snapshot from the source Glance into a new target Glance image, by one of
 * two engines (config.transfer.engine). The chunked engine (src/transfer) sends zero-skipped,
 * compressed chunks the target side's per-tenant store lacks, through the clouds' transfer agents
 * (or this process for a side without one); the target Glance's own os_hash_value must then
 * equal the source's. The relay (the baseline) streams the snapshot through this process. No
 * temporary file and memory independent of size: the download is piped through a hashing
 * meter (sha512 on a worker thread) straight into the upload, with backpressure end to end. The sha512 computed on the
 * way must equal the source's os_hash_value.
 */
import { pipeline, Transform } from 'node:stream';
import { ClonePhase, StepErrorCode } from '../../domain/clone-phase';
import { Image } from '../../ports/cloud-api.port';
import { TransferHashMode, createSha512Hasher } from '../../transfer/sha512-worker';
import { TransferStats, emptyStats } from '../../transfer/chunk-transfer';
import { runChunkedTransfer } from '../../transfer/transfer-engine';
import { CloneContext, CloneStep, PermanentStepError, TransferEngineDeps, TransferSavings } from '../clone-step';

/** Image properties worth carrying to the copy; everything else (ids, stores, owner...) stays. */
const COPIED_PROPERTY = /^(hw_|os_(?!hash_)|architecture$|hypervisor_type$|vm_mode$|img_)/;

/**
 * `hashMode`: where the relay's sha512 runs (a worker thread unless configured otherwise, see
 * TRANSFER_HASH); `engine`: the chunked engine's deps (without them, always the relay).
 */
export function transferStep(hashMode: TransferHashMode = 'worker', engine?: TransferEngineDeps): CloneStep {
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
      if (engine && sourceImage.size !== null && usesChunks(ctx, engine)) {
        await chunked(ctx, sourceImage, target.id, engine);
        return;
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
    target: { cloudId: ctx.target.cloud.id, glance: await ctx.target.api.imageDataAccess(targetImageId), agentUrl: targetAgent },
    secret: engine.secret,
    local,
    signal: ctx.signal,
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

function deltaOf(a: TransferStats, b: TransferStats): TransferStats {
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
