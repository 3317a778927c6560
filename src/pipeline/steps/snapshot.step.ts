/**
 * SNAPSHOT: Nova createImage of the source server, then wait for the image to be active.
 *
 * Nova snapshots a server one task at a time: createImage of a server that is already being
 * snapshotted (another clone of the same VM, a user's backup) is refused with 409 until that
 * task ends, minutes later. So the step waits for the server to be free (polling its task state
 * with jittered backoff, said in the job's events, cancellable, bounded by the snapshot timeout
 * counted from the phase's start) and asks again; a refusal after the server looked free is a
 * race with another waiter, and it waits again. Nova is the one arbiter here: a lock in the
 * broker would not see snapshots started outside it, and the wait is needed for those anyway.
 */
import { ClonePhase, StepErrorCode } from '../../domain/clone-phase';
import { ServerBusyError } from '../../domain/errors';
import { Backoff, backoffDelay, sleep } from '../../domain/retry';
import { Image } from '../../ports/cloud-api.port';
import { CloneContext, CloneStep, CloneStepDeps, PermanentStepError, pollUntil } from '../clone-step';

/** Nova's task states of a snapshot under way. */
const SNAPSHOT_TASKS = new Set(['image_snapshot', 'image_snapshot_pending', 'image_pending_upload', 'image_uploading']);
/** Between looks at a busy server: jittered, so the clones waiting on one server do not all ask at once. */
const BUSY_POLL: Backoff = { baseMs: 500, capMs: 5000 };
/** createImage refused this often while the server showed no task: a state that cannot be snapshotted, not a race. */
const REFUSALS_WHILE_FREE = 3;

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
        imageId = found?.id ?? (await createSnapshot(ctx, deps));
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

/** createImage once the server is free of other tasks; see the file comment. */
async function createSnapshot(ctx: CloneContext, deps: CloneStepDeps): Promise<string> {
  const { api, vm, cloud } = ctx.source;
  // From the phase's start (persisted), so a re-run or a resumed job does not wait afresh.
  const started = ctx.job.phases.find((p) => p.phase === ClonePhase.SNAPSHOT && !p.finishedAt)?.startedAt;
  const deadline = (started ? new Date(started).getTime() : Date.now()) + deps.timeouts.snapshotMs;
  let refusedWhileFree = 0;
  for (;;) {
    await waitUntilFree(ctx, deadline, deps.timeouts.snapshotMs);
    try {
      return await api.createServerImage(vm.serverId, `${ctx.job.name}-snapshot`, { ...ctx.tags, intercloud_role: 'snapshot' });
    } catch (err) {
      if (!(err instanceof ServerBusyError)) throw err;
      // Another snapshot started between our look and our request (another clone of this VM), or, after an
      // ambiguous first attempt that the HTTP layer asked again, our own: then it is the one to use.
      const [ours] = await taggedSnapshots(ctx);
      if (ours) return ours.id;
      const server = await api.getServer(vm.serverId);
      if (server && !server.taskState && ++refusedWhileFree >= REFUSALS_WHILE_FREE) {
        throw new PermanentStepError(StepErrorCode.SNAPSHOT_FAILED, `source server ${vm.serverId} in cloud ${cloud.name} cannot be snapshotted (status ${safeState(server.status)}): ${err.message}`);
      }
      ctx.log.info({ serverId: vm.serverId, taskState: server?.taskState ?? null }, 'createImage refused: the server is busy; waiting again');
    }
  }
}

/**
 * Polls the source server until it has no task. Says so in the job's events when it starts
 * waiting; aborts with the job's signal (cancel, stop, lost lease).
 */
async function waitUntilFree(ctx: CloneContext, deadline: number, timeoutMs: number): Promise<void> {
  const { api, vm, cloud } = ctx.source;
  // Once per wait, not at every step of the other snapshot (a waiter behind many clones would say a lot).
  let noted = false;
  for (let attempt = 1; ; attempt++) {
    ctx.signal.throwIfAborted();
    const server = await api.getServer(vm.serverId);
    if (!server) throw new PermanentStepError(StepErrorCode.SNAPSHOT_FAILED, `source server ${vm.serverId} is gone from cloud ${cloud.name}`);
    if (!server.taskState) return;
    const task = safeState(server.taskState);
    if (Date.now() >= deadline) {
      throw new PermanentStepError(
        StepErrorCode.SERVER_BUSY,
        `source server ${vm.serverId} in cloud ${cloud.name} is still busy with another task (task_state ${task}) after the snapshot timeout of ${Math.round(timeoutMs / 1000)} s`,
      );
    }
    if (!noted) {
      noted = true;
      ctx.log.info({ serverId: vm.serverId, taskState: task }, 'source server busy; waiting');
      await ctx.note(`server busy with another ${SNAPSHOT_TASKS.has(task) ? 'snapshot' : 'task'} (task_state ${task}): waiting`);
    }
    await sleep(Math.max(0, Math.min(backoffDelay(attempt, BUSY_POLL), deadline - Date.now())), ctx.signal);
  }
}

/** A state word from the cloud, fit for a message (the cloud is not trusted to send one). */
function safeState(value: string): string {
  return /^[A-Za-z0-9_-]{1,64}$/.test(value) ? value : 'unrecognised';
}

function taggedSnapshots(ctx: CloneContext): Promise<Image[]> {
  return ctx.source.api.listImages({ properties: { intercloud_job: ctx.job.id, intercloud_role: 'snapshot' } });
}
