/**
 * TRANSFER with a disk format conversion by the target cloud's transfer agent: the chunks go to
 * the target agent's store as for any chunked transfer (zero-skipped, compressed, deduplicated),
 * then the agent rebuilds the image into its own spool, checks it against the source's
 * os_hash_value, converts it with qemu-img and uploads the result (src/transfer/target-conversion.ts).
 * The broker holds no spool and no image bytes; the job's events say that the target agent
 * converted and where it spooled. The agent reports the converted image's sha512, which is
 * recorded for IMPORT (as for a conversion in this process) and compared here with what the
 * target Glance computed itself, so a lying or broken agent cannot pass off other bytes.
 */
import { StepErrorCode } from '../../domain/clone-phase';
import { ConvertibleDiskFormat } from '../../domain/disk-formats';
import { formatBytes } from '../../domain/matchmaking';
import { Image } from '../../ports/cloud-api.port';
import { RemoteChunkTarget } from '../../transfer/agent.client';
import { emptyStats } from '../../transfer/chunk-transfer';
import { TargetConversionDone } from '../../transfer/target-conversion';
import { runChunkedTransfer } from '../../transfer/transfer-engine';
import { CloneContext, PermanentStepError, TransferEngineDeps } from '../clone-step';
import { deltaOf, savingsOf } from './transfer.step';

export interface AgentConversionJob {
  sourceImage: Image;
  targetImageId: string;
  from: ConvertibleDiskFormat;
  to: ConvertibleDiskFormat;
  engine: TransferEngineDeps;
}

export async function convertThroughTargetAgent(ctx: CloneContext, job: AgentConversionJob): Promise<void> {
  const { sourceImage, targetImageId, from, to, engine } = job;
  const sourceAgent = ctx.source.cloud.transferAgentUrl;
  const targetAgent = ctx.target.cloud.transferAgentUrl;
  if (!targetAgent) throw new Error('a conversion by the target agent needs the target cloud to name one');
  const agentLabel = sourceAgent ?? 'broker';
  const local = await engine.local.get();
  const targetGlance = await ctx.target.api.imageDataAccess(targetImageId);
  let last = emptyStats(sourceImage.size!);
  let done: TargetConversionDone | null = null;
  ctx.log.info({ sourceAgent: sourceAgent ?? 'broker', targetAgent, from, to }, 'chunked transfer, converted by the target agent');
  await ctx.note(`sending the ${from} image in chunks to the target agent ${targetAgent}, which converts it to ${to}`);
  const stats = await runChunkedTransfer({
    jobId: ctx.job.id,
    tenantId: ctx.job.tenantId,
    source: { cloudId: ctx.source.cloud.id, glance: await ctx.source.api.imageDataAccess(sourceImage.id), size: sourceImage.size!, agentUrl: sourceAgent },
    target: { cloudId: ctx.target.cloud.id, glance: targetGlance, agentUrl: targetAgent },
    secret: engine.secret,
    local,
    signal: ctx.signal,
    onProgress: (s) => {
      engine.record?.(ctx.job.id, agentLabel, deltaOf(last, s));
      last = s;
      ctx.progress(s.processedBytes, s.imageBytes, savingsOf(s));
    },
    finish: async (target, req) => {
      if (!(target instanceof RemoteChunkTarget)) throw new Error('a conversion by the target agent needs a target agent');
      await ctx.progressSettled();
      const result = await target.convert({ ...req, from, to, expectSha512: sourceImage.hashValue }, targetGlance, async (e) => {
        if (e.stage === 'spooling') await ctx.note(`target agent ${targetAgent} converting ${from} -> ${to} (spool ${formatBytes(e.bytes)} in ${e.spoolDir})`);
        else if (e.stage === 'converting') await ctx.note(`target agent ${targetAgent} converting ${from} -> ${to} with qemu-img (virtual size ${formatBytes(e.virtualSize)})`);
        else await ctx.note(`target agent ${targetAgent} converted ${from} -> ${to} in ${e.seconds.toFixed(1)} s: uploading ${formatBytes(e.convertedBytes)} as ${to}`);
      });
      if (result.ok) done = result;
      return result;
    },
  });
  ctx.progress(stats.imageBytes, stats.imageBytes, savingsOf(stats));
  await ctx.progressSettled();
  const converted = done as TargetConversionDone | null;
  if (!converted) throw new Error(`target agent ${targetAgent} finished without reporting the converted image`);
  // The agent checked this already; checked again here, since the agent is another machine's process.
  if (converted.sourceSha512 !== sourceImage.hashValue) {
    throw new PermanentStepError(
      StepErrorCode.CHECKSUM_MISMATCH,
      `the image rebuilt by target agent ${targetAgent} (${converted.sourceSha512.slice(0, 16)}...) differs from the source image's os_hash_value (${String(sourceImage.hashValue).slice(0, 16)}...)`,
    );
  }
  const target = await ctx.target.api.getImage(targetImageId);
  if (!target || target.status !== 'active') throw new Error(`target image ${targetImageId} is ${target?.status ?? 'gone'} after its upload`);
  if (target.hashValue !== converted.sha512) {
    throw new PermanentStepError(
      StepErrorCode.CHECKSUM_MISMATCH,
      `cloud ${ctx.target.cloud.name} computed a sha512 (${String(target.hashValue).slice(0, 16)}...) for the converted image that differs from the one target agent ${targetAgent} uploaded (${converted.sha512.slice(0, 16)}...)`,
    );
  }
  // IMPORT compares the target Glance's os_hash_value with this, not with the source's.
  await ctx.checkpoint({ targetImageHash: converted.sha512 });
  ctx.log.info({ targetImageId, from, to, convertedBytes: converted.uploadedBytes, spoolDir: converted.spoolDir, ...stats }, 'image transferred in chunks, converted by the target agent and verified');
}
