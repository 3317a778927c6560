/** SNAPSHOT: Nova createImage of the source server, then wait for the image to be active. */
import { ClonePhase, StepErrorCode } from '../../domain/clone-phase';
import { Image } from '../../ports/cloud-api.port';
import { CloneContext, CloneStep, CloneStepDeps, PermanentStepError, pollUntil } from '../clone-step';

export function snapshotStep(deps: CloneStepDeps): CloneStep {
  return {
    phase: ClonePhase.SNAPSHOT,
    applies: () => true,

    async run(ctx) {
      const { api, vm } = ctx.source;
      let imageId = ctx.artefacts.snapshotImageId;
      if (!imageId) {
        // A broker that died between createImage and its checkpoint left the snapshot tagged.
        const [found] = await taggedSnapshots(ctx);
        imageId = found?.id ?? (await api.createServerImage(vm.serverId, `${ctx.job.name}-snapshot`, { ...ctx.tags, intercloud_role: 'snapshot' }));
        await ctx.checkpoint({ snapshotImageId: imageId });
      }
      const id = imageId;
      const image = await pollUntil(
        async () => {
          const img = await api.getImage(id);
          if (!img || img.status === 'killed' || img.status === 'deleted') {
            throw new PermanentStepError(StepErrorCode.SNAPSHOT_FAILED, `snapshot image ${id} of server ${vm.serverId} in cloud ${ctx.source.cloud.name} is ${img?.status ?? 'gone'}`);
          }
          return img.status === 'active' ? img : null;
        },
        { what: `snapshot image ${id} to become active`, timeoutMs: deps.timeouts.snapshotMs, signal: ctx.signal },
      );
      if (!image.hashValue || image.size === null) {
        throw new PermanentStepError(StepErrorCode.SNAPSHOT_FAILED, `snapshot image ${image.id} has no size or os_hash_value`);
      }
      await ctx.checkpoint({ snapshotSize: image.size, snapshotHash: image.hashValue });
      ctx.log.info({ imageId: image.id, size: image.size }, 'snapshot ready');
    },

    /** The checkpointed snapshot and any other the job's tag finds (an attempt that died before its checkpoint). */
    async undo(ctx) {
      const ids = new Set((await taggedSnapshots(ctx)).map((i) => i.id));
      if (ctx.artefacts.snapshotImageId) ids.add(ctx.artefacts.snapshotImageId);
      for (const id of ids) await ctx.source.api.deleteImage(id);
    },
  };
}

function taggedSnapshots(ctx: CloneContext): Promise<Image[]> {
  return ctx.source.api.listImages({ properties: { intercloud_job: ctx.job.id, intercloud_role: 'snapshot' } });
}
