/** SNAPSHOT: Nova createImage of the source server, then wait for the image to be active. */
import { ClonePhase } from '../../domain/clone-phase';
import { CloneStep, PermanentStepError, pollUntil } from '../clone-step';

export const snapshotStep: CloneStep = {
  phase: ClonePhase.SNAPSHOT,
  applies: () => true,

  async run(ctx) {
    const { api, vm } = ctx.source;
    let imageId = ctx.artefacts.snapshotImageId;
    if (!imageId) {
      const [found] = await api.listImages({ properties: { intercloud_job: ctx.job.id, intercloud_role: 'snapshot' } });
      imageId = found?.id ?? (await api.createServerImage(vm.serverId, `${ctx.job.name}-snapshot`, { ...ctx.tags, intercloud_role: 'snapshot' }));
      await ctx.checkpoint({ snapshotImageId: imageId });
    }
    const image = await pollUntil(
      async () => {
        const img = await api.getImage(imageId!);
        if (!img || img.status === 'killed' || img.status === 'deleted') {
          throw new PermanentStepError('SNAPSHOT_FAILED', `snapshot image ${imageId} of server ${vm.serverId} in cloud ${ctx.source.cloud.name} is ${img?.status ?? 'gone'}`);
        }
        return img.status === 'active' ? img : null;
      },
      { what: `snapshot image ${imageId} to become active`, timeoutMs: 30 * 60_000, signal: ctx.signal },
    );
    if (!image.hashValue || image.size === null) {
      throw new PermanentStepError('SNAPSHOT_FAILED', `snapshot image ${image.id} has no size or os_hash_value`);
    }
    await ctx.checkpoint({ snapshotSize: image.size, snapshotHash: image.hashValue });
    ctx.log.info({ imageId: image.id, size: image.size }, 'snapshot ready');
  },

  async undo(ctx) {
    const id = ctx.artefacts.snapshotImageId;
    if (id) await ctx.source.api.deleteImage(id);
  },
};
