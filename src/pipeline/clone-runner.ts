/**
 * Runs clone jobs on the shared job machinery (saga-runner.ts): opens the job's clouds and VM,
 * reports transfer progress, publishes on the job's clone event stream, and when every step is
 * done turns the clone into a VM the broker knows.
 */
import { EntityManager } from 'typeorm';
import { CloneEventKind, CloneJobPurpose, ClonePhase, CloneJobState, PermanentStepError, StepErrorCode } from '../domain/clone-phase';
import { CloneJobEntity, StandbyImageEntity, VmEntity } from '../domain/entities';
import { VmOrigin } from '../domain/enums';
import { inheritedHostKey } from '../domain/sip-bindings';
import { EventBus } from '../ports/event-bus.port';
import { JobQueue } from '../ports/job-queue.port';
import { CloneEventPayload, publishCloneEvent } from './clone-events';
import { CloneContextFactory } from './clone-context.factory';
import { ProgressReport, ProgressThrottle, SerialProgressWriter } from './clone-progress';
import { CloneArtefacts, CloneContext, CloneStep, TransferSavings } from './clone-step';
import { JobStore } from './job.store';
import { LeaseFence } from './lease-fence';
import { pauseReason, SagaEvent, SagaRunner, SagaRunnerOptions } from './saga-runner';

export { DEFAULT_BACKOFFS } from './saga-runner';
export type CloneRunnerOptions = SagaRunnerOptions;

export interface CloneRunnerDeps {
  store: JobStore<CloneJobEntity>;
  bus: EventBus;
  queue: JobQueue;
  contexts: CloneContextFactory;
  steps: readonly CloneStep[];
  logger: import('pino').Logger;
  /** How long a standby image made by a STANDBY job may be booted from (STANDBY_IMAGE_TTL_SECONDS). */
  standbyTtlMs: number;
}

export class CloneRunner extends SagaRunner<CloneJobEntity, CloneContext> {
  constructor(
    private readonly clone: CloneRunnerDeps,
    options: CloneRunnerOptions,
  ) {
    super({ kind: 'clone', store: clone.store, queue: clone.queue, steps: clone.steps, logger: clone.logger }, options);
  }

  protected async open(job: CloneJobEntity, fence: LeaseFence, signal: AbortSignal): Promise<CloneContext> {
    const { store } = this.clone;
    const opened = await this.clone.contexts.open(job, fence);
    const log = this.clone.logger.child({ jobId: job.id, sourceCloudId: opened.source.cloud.id, cloudId: opened.target.cloud.id });
    const artefacts = job.artefacts as CloneArtefacts;
    let savings: TransferSavings | null = null;
    const writer = new SerialProgressWriter<ProgressReport & { transfer: TransferSavings | null }>(
      (r) => this.progressEvent(job, r),
      (err) => log.warn({ err }, 'could not store progress'),
    );
    const throttle = new ProgressThrottle((r) => {
      job.bytesTransferred = r.bytesTransferred;
      job.bytesTotal = r.bytesTotal;
      writer.offer({ ...r, transfer: savings });
    });
    return {
      job,
      artefacts,
      ...opened,
      intraCloud: opened.source.cloud.id === opened.target.cloud.id,
      signal,
      log,
      tags: { intercloud_job: job.id },
      checkpoint: async (patch) => {
        Object.assign(artefacts, patch);
        if (patch.snapshotSize !== undefined) job.bytesTotal = patch.snapshotSize;
        await store.transaction((tx) => store.write(tx, job.id, { artefacts: { ...artefacts }, bytesTotal: job.bytesTotal }));
      },
      progress: (bytes, total, transfer) => {
        savings = transfer ?? null;
        throttle.update(bytes, total);
      },
      progressSettled: () => writer.settled(),
      note: async (message) => {
        // After the pending byte counts, so the note's seq is in order with them.
        await writer.settled();
        await this.noteEvent(job, message);
      },
    };
  }

  protected override async ended(): Promise<void> {
    await this.clone.contexts.ended();
  }

  protected async publish(tx: EntityManager, job: CloneJobEntity, event: SagaEvent & Record<string, unknown>): Promise<void> {
    await publishCloneEvent(this.clone.bus, tx, job.tenantId, { ...(event as Partial<CloneEventPayload>), jobId: job.id, kind: event.kind, phase: event.phase as ClonePhase });
  }

  protected override phaseCompletedExtras(ctx: CloneContext): Record<string, unknown> {
    return { bytesTransferred: ctx.job.bytesTransferred, bytesTotal: ctx.job.bytesTotal };
  }

  private async noteEvent(job: CloneJobEntity, message: string): Promise<void> {
    await this.clone.store.transaction((tx) =>
      publishCloneEvent(this.clone.bus, tx, job.tenantId, {
        jobId: job.id,
        kind: CloneEventKind.PROGRESS,
        phase: job.phase,
        bytesTransferred: job.bytesTransferred,
        bytesTotal: job.bytesTotal,
        message,
      }),
    );
  }

  private async progressEvent(
    job: CloneJobEntity,
    r: { bytesTransferred: number; bytesTotal: number | null; bytesPerSecond: number; etaSeconds: number | null; transfer: TransferSavings | null },
  ): Promise<void> {
    const { store } = this.clone;
    await store.transaction(async (tx) => {
      await store.write(tx, job.id, { bytesTransferred: r.bytesTransferred, bytesTotal: r.bytesTotal });
      await publishCloneEvent(this.clone.bus, tx, job.tenantId, { jobId: job.id, kind: CloneEventKind.PROGRESS, phase: ClonePhase.TRANSFER, ...r });
    });
  }

  /**
   * The clone becomes a VM the broker knows; false when a cancellation arrived first (then
   * nothing is written and the runner undoes). Cross-cloud, the source snapshot is no longer
   * needed; it is deleted before DONE is committed because nothing comes back to a DONE job: a
   * broker dying in between leaves a RUNNING job whose resume deletes it again (404 is fine).
   */
  protected async finish(ctx: CloneContext): Promise<boolean> {
    const { job, artefacts } = ctx;
    const { store } = this.clone;
    if (!ctx.intraCloud && artefacts.snapshotImageId) {
      await ctx.source.api.deleteImage(artefacts.snapshotImageId).catch((err) => {
        if (pauseReason(err)) throw err;
        ctx.log.warn({ err }, 'could not delete the source snapshot');
      });
    }
    if (job.purpose === CloneJobPurpose.STANDBY) return this.finishStandby(ctx);
    const server = await ctx.target.api.getServer(artefacts.serverId!);
    const done = await store.transaction(async (tx) => {
      if (!(await store.write(tx, job.id, { state: CloneJobState.DONE, phase: ClonePhase.DONE, finishedAt: 'now' }, [CloneJobState.RUNNING]))) return false;
      let vm = await tx.findOne(VmEntity, { where: { cloudId: ctx.target.cloud.id, serverId: artefacts.serverId! } });
      if (vm && vm.tenantId !== job.tenantId) {
        // Another tenant (the owner of a shared cloud) imported this job's server before it finished:
        // never adopt their row. Retrying cannot change that, so the job fails for good and is undone
        // (the transaction is rolled back, so DONE was never written). Their ids stay out of the message.
        throw new PermanentStepError(
          StepErrorCode.SERVER_REGISTERED_ELSEWHERE,
          `the clone's server ${artefacts.serverId} in cloud ${ctx.target.cloud.name} was registered with the broker by another tenant before the job finished`,
        );
      }
      vm ??= await tx.save(
        tx.create(VmEntity, {
          ...(artefacts.cloneVmId ? { id: artefacts.cloneVmId } : {}),
          tenantId: job.tenantId,
          vmTypeId: ctx.source.vm.vmTypeId,
          cloudId: ctx.target.cloud.id,
          serverId: artefacts.serverId!,
          name: job.name,
          addresses: server?.addresses ?? artefacts.addresses ?? [],
          state: server?.status ?? 'ACTIVE',
          origin: VmOrigin.CLONE,
          sourceVmId: ctx.source.vm.id,
          cloneJobId: job.id,
          // The clone keeps the source's host keys, so the source's pinned key is the one to expect.
          ...inheritedHostKey(ctx.source.vm),
        }),
      );
      await store.write(tx, job.id, { resultVmId: vm.id });
      const total = Date.now() - job.createdAt.getTime();
      await publishCloneEvent(this.clone.bus, tx, job.tenantId, {
        jobId: job.id,
        kind: CloneEventKind.DONE,
        phase: ClonePhase.DONE,
        bytesTransferred: job.bytesTransferred,
        bytesTotal: job.bytesTotal,
        message: `clone ${vm.id} ready in ${(total / 1000).toFixed(1)} s`,
      });
      return true;
    });
    if (done) ctx.log.info({ serverId: artefacts.serverId }, 'clone job done');
    return done;
  }

  /**
   * A STANDBY job ends with its image kept in the target cloud as a standby image of the source's
   * VM type, fresh for STANDBY_IMAGE_TTL_SECONDS; no server, no VM. The reaper leaves the image
   * alone (it is the DONE job's result) until the standby expires, then deletes it. A job that
   * keeps its standby fresh (read now: keepFresh may have been asked for while it ran) hands the
   * flag over: the new standby is the one the refresher watches, the older ones expire as usual.
   */
  private async finishStandby(ctx: CloneContext): Promise<boolean> {
    const { job, artefacts } = ctx;
    const { store } = this.clone;
    const imageId = ctx.intraCloud ? artefacts.snapshotImageId : artefacts.targetImageId;
    const vmTypeId = ctx.source.vm.vmTypeId;
    if (!imageId || !vmTypeId) throw new PermanentStepError(StepErrorCode.IMPORT_FAILED, 'a standby job needs an image in the target cloud and a source VM of a VM type');
    const expiresAt = new Date(Date.now() + this.clone.standbyTtlMs);
    const standby = await store.transaction(async (tx) => {
      if (!(await store.write(tx, job.id, { state: CloneJobState.DONE, phase: ClonePhase.DONE, finishedAt: 'now' }, [CloneJobState.RUNNING]))) return null;
      const [{ keep_fresh: keepFresh }]: { keep_fresh: boolean }[] = await tx.query(`SELECT keep_fresh FROM clone_jobs WHERE id = $1`, [job.id]);
      const row = await tx.save(
        tx.create(StandbyImageEntity, { tenantId: job.tenantId, vmTypeId, cloudId: ctx.target.cloud.id, imageId, sourceVmId: ctx.source.vm.id, createdByJobId: job.id, expiresAt, keepFresh }),
      );
      if (keepFresh) {
        await tx.query(`UPDATE standby_images SET keep_fresh = false WHERE tenant_id = $1 AND vm_type_id = $2 AND cloud_id = $3 AND id <> $4 AND keep_fresh`, [
          job.tenantId,
          vmTypeId,
          ctx.target.cloud.id,
          row.id,
        ]);
      }
      await store.write(tx, job.id, { standbyImageId: row.id });
      await publishCloneEvent(this.clone.bus, tx, job.tenantId, {
        jobId: job.id,
        kind: CloneEventKind.DONE,
        phase: ClonePhase.DONE,
        bytesTransferred: job.bytesTransferred,
        bytesTotal: job.bytesTotal,
        message: `standby image ${imageId} ready in cloud ${ctx.target.cloud.name} until ${expiresAt.toISOString()}; clones of this VM type into this cloud boot from it${keepFresh ? '; kept fresh: a successor is prepared before it expires' : ''}`,
      });
      return row;
    });
    if (standby) ctx.log.info({ standbyImageId: standby.id, imageId, vmTypeId, expiresAt, keepFresh: standby.keepFresh }, 'standby image ready');
    return standby !== null;
  }
}
