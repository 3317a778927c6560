/**
 * Runs clone jobs delivered by the job queue. A job is held under a lease (renewed while it
 * runs) so exactly one broker works on it; a broker that dies loses the lease and any other
 * replica (or itself after a restart) resumes the job from its last checkpoint. Each step is
 * retried on transient errors; a permanent error or a cancellation undoes, in reverse order,
 * what every started step made.
 */
import { Logger } from 'pino';
import { DataSource, EntityManager } from 'typeorm';
import { CloneEventKind, ClonePhase, CloneJobState, PhaseTiming } from '../domain/clone-phase';
import { CloneJobEntity, CloudEntity, VmEntity, VmTypeEntity } from '../domain/entities';
import { VmOrigin } from '../domain/enums';
import { DomainError, ErrorCode } from '../domain/errors';
import { CloudApiFactory } from '../ports/cloud-api.port';
import { EventBus } from '../ports/event-bus.port';
import { JobQueue } from '../ports/job-queue.port';
import { CloudService } from '../services/cloud.service';
import { CloneEventPayload, publishCloneEvent } from './clone-events';
import { ProgressThrottle } from './clone-progress';
import { CloneArtefacts, CloneContext, CloneStep, PermanentStepError } from './clone-step';
import { cloneSteps } from './steps';

export interface CloneRunnerOptions {
  /** This process's name in leases. */
  owner: string;
  leaseMs: number;
  /** Attempts per step for transient (upstream) failures. */
  stepAttempts: number;
  sweepIntervalMs: number;
}

type Outcome = CloneJobState.FAILED | CloneJobState.CANCELLED;

class StopRequested extends Error {}

export class CloneRunner {
  private readonly active = new Map<string, AbortController>();
  private sweeper: NodeJS.Timeout | null = null;
  private stopping = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly bus: EventBus,
    private readonly queue: JobQueue,
    private readonly cloudApis: CloudApiFactory,
    private readonly clouds: CloudService,
    private readonly logger: Logger,
    private readonly options: CloneRunnerOptions,
    private readonly steps: readonly CloneStep[] = cloneSteps,
  ) {}

  async start(): Promise<void> {
    await this.queue.workClones((id) => this.run(id));
    await this.sweep();
    this.sweeper = setInterval(() => void this.sweep().catch((err) => this.logger.warn({ err }, 'clone lease sweep failed')), this.options.sweepIntervalMs);
    this.sweeper.unref();
  }

  /** Stops taking jobs; running ones release their lease at the next safe point for another broker to resume. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.sweeper) clearInterval(this.sweeper);
    for (const ac of this.active.values()) ac.abort(new StopRequested('broker stopping'));
    await this.queue.stop();
  }

  /** Re-delivers jobs whose runner is gone (lease expired or released): they resume from their checkpoint. */
  async sweep(): Promise<void> {
    if (this.stopping) return;
    const rows = await this.updateReturning<{ id: string }>(
      `UPDATE clone_jobs SET lease_owner = 'requeued', lease_expires_at = now() + make_interval(secs => $1)
       WHERE (state IN ('RUNNING', 'CANCELLING') AND (lease_owner IS NULL OR lease_expires_at < now()))
          -- A broker that died between taking a job from the queue and claiming it leaves it QUEUED.
          OR (state = 'QUEUED' AND (lease_expires_at < now() OR (lease_owner IS NULL AND created_at < now() - make_interval(secs => $1 * 2))))
       RETURNING id`,
      [this.options.leaseMs / 1000],
    );
    for (const { id } of rows) {
      this.logger.info({ jobId: id }, 'resuming clone job whose runner is gone');
      await this.queue.enqueueClone(null, id);
    }
  }

  async run(jobId: string): Promise<void> {
    if (this.stopping || !(await this.claim(jobId))) return;
    const ac = new AbortController();
    this.active.set(jobId, ac);
    // Also how soon a cancellation is noticed, hence at least once a second (one row update).
    const heartbeat = setInterval(() => void this.renew(jobId, ac), Math.min(1000, this.options.leaseMs / 3));
    try {
      await this.execute(jobId, ac.signal);
    } catch (err) {
      if (err instanceof StopRequested) this.logger.info({ jobId, reason: err.message }, 'clone job paused; another broker will resume it');
      else this.logger.error({ err, jobId }, 'clone runner failed outside a step');
    } finally {
      clearInterval(heartbeat);
      this.active.delete(jobId);
      await this.dataSource
        .query(`UPDATE clone_jobs SET lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND lease_owner = $2`, [jobId, this.options.owner])
        .catch((err) => this.logger.warn({ err, jobId }, 'could not release clone job lease'));
    }
  }

  private async claim(jobId: string): Promise<boolean> {
    const rows = await this.updateReturning<{ id: string }>(
      `UPDATE clone_jobs SET lease_owner = $2, lease_expires_at = now() + make_interval(secs => $3),
         state = CASE WHEN state = 'QUEUED' THEN 'RUNNING' ELSE state END
       WHERE id = $1 AND state IN ('QUEUED', 'RUNNING', 'CANCELLING')
         AND (lease_owner IS NULL OR lease_owner = 'requeued' OR lease_expires_at < now())
       RETURNING id`,
      [jobId, this.options.owner, this.options.leaseMs / 1000],
    );
    return rows.length > 0;
  }

  /** Renews the lease and notices a cancellation or a lost lease. */
  private async renew(jobId: string, ac: AbortController): Promise<void> {
    try {
      const rows = await this.updateReturning<{ state: string }>(
        `UPDATE clone_jobs SET lease_expires_at = now() + make_interval(secs => $3) WHERE id = $1 AND lease_owner = $2 RETURNING state`,
        [jobId, this.options.owner, this.options.leaseMs / 1000],
      );
      if (rows.length === 0) ac.abort(new StopRequested('lease lost'));
      else if (rows[0].state === CloneJobState.CANCELLING) ac.abort(new Error('cancelled'));
    } catch (err) {
      this.logger.warn({ err, jobId }, 'could not renew clone job lease');
    }
  }

  /**
   * Writes job columns only while this broker still holds the lease; a broker that stalled past
   * its lease must not overwrite what the one that took over has written (the transaction,
   * with its event, is rolled back).
   */
  private async guardedUpdate(tx: EntityManager, jobId: string, assignments: string, params: unknown[]): Promise<void> {
    const owner = `$${params.length + 2}`;
    const [, count] = (await tx.query(`UPDATE clone_jobs SET ${assignments}, updated_at = now() WHERE id = $1 AND lease_owner = ${owner}`, [jobId, ...params, this.options.owner])) as [unknown, number];
    if (count === 0) throw new StopRequested(`lost the lease on clone job ${jobId}`);
  }

  /** TypeORM answers an UPDATE with [rows, count]; this gives the RETURNING rows. */
  private async updateReturning<T>(sql: string, params: unknown[]): Promise<T[]> {
    const [rows] = (await this.dataSource.query(sql, params)) as [T[], number];
    return rows;
  }

  private async execute(jobId: string, signal: AbortSignal): Promise<void> {
    const job = await this.dataSource.getRepository(CloneJobEntity).findOneByOrFail({ id: jobId });
    const ctx = await this.context(job, signal);
    const log = ctx.log;
    if (job.state === CloneJobState.CANCELLING) return this.compensate(ctx, CloneJobState.CANCELLED, null);
    const done = new Set(job.phases.filter((p) => p.finishedAt).map((p) => p.phase));
    for (const step of this.steps) {
      if (!step.applies(ctx) || done.has(step.phase)) continue;
      await this.startPhase(ctx, step.phase);
      for (let attempt = 1; ; attempt++) {
        try {
          signal.throwIfAborted();
          await step.run(ctx);
          break;
        } catch (err) {
          const stop = err instanceof StopRequested ? err : signal.aborted && signal.reason instanceof StopRequested ? signal.reason : null;
          if (stop) {
            log.info({ reason: stop.message, phase: step.phase }, 'clone job paused; another broker will resume it');
            return;
          }
          if (signal.aborted) return this.compensate(ctx, CloneJobState.CANCELLED, null);
          const transient = err instanceof DomainError && err.code === ErrorCode.UPSTREAM_UNAVAILABLE;
          if (!transient || attempt >= this.options.stepAttempts) return this.compensate(ctx, CloneJobState.FAILED, err);
          const delay = Math.min(1000 * 2 ** (attempt - 1), 15_000);
          log.warn({ err, phase: step.phase, attempt, delay }, 'clone step failed; retrying');
          await this.event(ctx, { kind: CloneEventKind.PROGRESS, phase: step.phase, message: `attempt ${attempt} failed (${(err as Error).message}); retrying in ${delay} ms` });
          await new Promise((r) => setTimeout(r, delay));
        }
      }
      await this.finishPhase(ctx, step.phase);
    }
    await this.finish(ctx);
  }

  private async context(job: CloneJobEntity, signal: AbortSignal): Promise<CloneContext> {
    const clouds = this.dataSource.getRepository(CloudEntity);
    const vm = await this.dataSource.getRepository(VmEntity).findOneByOrFail({ id: job.sourceVmId });
    const sourceCloud = await clouds.findOneByOrFail({ id: job.sourceCloudId });
    const targetCloud = await clouds.findOneByOrFail({ id: job.targetCloudId });
    const vmType = vm.vmTypeId ? await this.dataSource.getRepository(VmTypeEntity).findOneBy({ id: vm.vmTypeId }) : null;
    const log = this.logger.child({ jobId: job.id, sourceCloudId: sourceCloud.id, cloudId: targetCloud.id });
    const artefacts = job.artefacts as CloneArtefacts;
    const throttle = new ProgressThrottle((r) => {
      job.bytesTransferred = r.bytesTransferred;
      job.bytesTotal = r.bytesTotal;
      void this.progressEvent(job, r).catch((err) => log.warn({ err }, 'could not store progress'));
    });
    return {
      job,
      artefacts,
      source: { cloud: sourceCloud, api: this.cloudApis.forConnection(this.clouds.connectionOf(sourceCloud)), vm },
      target: { cloud: targetCloud, api: this.cloudApis.forConnection(this.clouds.connectionOf(targetCloud)) },
      vmType,
      intraCloud: sourceCloud.id === targetCloud.id,
      signal,
      log,
      tags: { intercloud_job: job.id },
      checkpoint: async (patch) => {
        Object.assign(artefacts, patch);
        if (patch.snapshotSize !== undefined) job.bytesTotal = patch.snapshotSize;
        await this.dataSource.transaction((tx) => this.guardedUpdate(tx, job.id, `artefacts = $2, bytes_total = $3`, [JSON.stringify(artefacts), job.bytesTotal]));
      },
      progress: (bytes, total) => throttle.update(bytes, total),
    };
  }

  private async progressEvent(job: CloneJobEntity, r: { bytesTransferred: number; bytesTotal: number | null; bytesPerSecond: number; etaSeconds: number | null }): Promise<void> {
    await this.dataSource.transaction(async (tx) => {
      await this.guardedUpdate(tx, job.id, `bytes_transferred = $2, bytes_total = $3`, [r.bytesTransferred, r.bytesTotal]);
      await publishCloneEvent(this.bus, tx, job.tenantId, { jobId: job.id, kind: CloneEventKind.PROGRESS, phase: ClonePhase.TRANSFER, ...r });
    });
  }

  private async event(ctx: CloneContext, e: Omit<CloneEventPayload, 'jobId' | 'at' | 'bytesTransferred' | 'bytesTotal' | 'bytesPerSecond' | 'etaSeconds' | 'message'> & Partial<CloneEventPayload>): Promise<void> {
    await this.dataSource.transaction((tx) => publishCloneEvent(this.bus, tx, ctx.job.tenantId, { jobId: ctx.job.id, ...e }));
  }

  /** Phase bookkeeping and its event commit together; `state` is never written here (a cancel may have set it). */
  private async savePhases(ctx: CloneContext, event: Parameters<CloneRunner['event']>[1]): Promise<void> {
    const { job } = ctx;
    await this.dataSource.transaction(async (tx) => {
      await this.guardedUpdate(tx, job.id, `phase = $2, phases = $3`, [job.phase, JSON.stringify(job.phases)]);
      await publishCloneEvent(this.bus, tx, job.tenantId, { jobId: job.id, ...event });
    });
  }

  private async startPhase(ctx: CloneContext, phase: ClonePhase): Promise<void> {
    const { job } = ctx;
    const resumed = job.phases.some((p) => p.phase === phase && !p.finishedAt);
    if (!resumed) job.phases.push({ phase, startedAt: new Date().toISOString(), finishedAt: null, durationMs: null });
    job.phase = phase;
    ctx.log.info({ phase, resumed }, 'clone phase started');
    await this.savePhases(ctx, { kind: CloneEventKind.PHASE_STARTED, phase, message: resumed ? 'resumed from checkpoint' : null });
  }

  private async finishPhase(ctx: CloneContext, phase: ClonePhase): Promise<void> {
    const timing = ctx.job.phases.find((p) => p.phase === phase && !p.finishedAt) as PhaseTiming;
    const now = new Date();
    timing.finishedAt = now.toISOString();
    timing.durationMs = now.getTime() - new Date(timing.startedAt).getTime();
    ctx.log.info({ phase, durationMs: timing.durationMs }, 'clone phase completed');
    await this.savePhases(ctx, { kind: CloneEventKind.PHASE_COMPLETED, phase, bytesTransferred: ctx.job.bytesTransferred, bytesTotal: ctx.job.bytesTotal });
  }

  /**
   * The clone becomes a VM the broker knows. Cross-cloud, the source snapshot is no longer
   * needed; it is deleted before DONE is committed because nothing comes back to a DONE job:
   * a broker dying in between leaves a RUNNING job whose resume deletes it again (404 is fine).
   */
  private async finish(ctx: CloneContext): Promise<void> {
    const { job, artefacts } = ctx;
    if (!ctx.intraCloud && artefacts.snapshotImageId) {
      await ctx.source.api.deleteImage(artefacts.snapshotImageId).catch((err) => ctx.log.warn({ err }, 'could not delete the source snapshot'));
    }
    const server = await ctx.target.api.getServer(artefacts.serverId!);
    await this.dataSource.transaction(async (tx) => {
      let vm = await tx.findOne(VmEntity, { where: { cloudId: ctx.target.cloud.id, serverId: artefacts.serverId! } });
      vm ??= await tx.save(
        tx.create(VmEntity, {
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
          sshHostKeyFingerprint: ctx.source.vm.sshHostKeyFingerprint,
        }),
      );
      const finishedAt = new Date();
      await this.guardedUpdate(tx, job.id, `state = 'DONE', phase = 'DONE', result_vm_id = $2, finished_at = $3`, [vm.id, finishedAt]);
      const total = finishedAt.getTime() - job.createdAt.getTime();
      await publishCloneEvent(this.bus, tx, job.tenantId, { jobId: job.id, kind: CloneEventKind.DONE, phase: ClonePhase.DONE, bytesTransferred: job.bytesTransferred, bytesTotal: job.bytesTotal, message: `clone ${vm.id} ready in ${(total / 1000).toFixed(1)} s` });
    });
    ctx.log.info({ serverId: artefacts.serverId }, 'clone job done');
  }

  /** Undoes, in reverse order, every step that started, then ends the job FAILED or CANCELLED. */
  private async compensate(ctx: CloneContext, outcome: Outcome, cause: unknown): Promise<void> {
    const { job } = ctx;
    const started = new Set(job.phases.map((p) => p.phase));
    const undone: string[] = [];
    const leftovers: string[] = [];
    for (const step of [...this.steps].reverse()) {
      if (!started.has(step.phase) || !step.undo) continue;
      for (let attempt = 1; attempt <= 3; attempt++) {
        try {
          await step.undo(ctx);
          undone.push(step.phase);
          break;
        } catch (err) {
          ctx.log.warn({ err, phase: step.phase, attempt }, 'undo failed');
          if (attempt === 3) leftovers.push(`${step.phase}: ${tenantMessage(err)}`);
          else await new Promise((r) => setTimeout(r, 500 * attempt));
        }
      }
    }
    const code = cause instanceof PermanentStepError ? cause.code : cause instanceof DomainError ? cause.code : cause ? ErrorCode.INTERNAL : null;
    let message = cause ? tenantMessage(cause) : outcome === CloneJobState.CANCELLED ? 'cancelled' : 'failed';
    if (leftovers.length > 0) message += `; could not undo ${leftovers.join('; ')}`;
    if (cause && !(cause instanceof DomainError) && !(cause instanceof PermanentStepError)) ctx.log.error({ err: cause }, 'clone step failed with an unexpected error');
    const phase = outcome === CloneJobState.CANCELLED ? ClonePhase.CANCELLED : ClonePhase.FAILED;
    await this.dataSource.transaction(async (tx) => {
      await this.guardedUpdate(tx, job.id, `state = $2, phase = $3, error_code = $4, error_message = $5, finished_at = now()`, [
        outcome,
        phase,
        code,
        outcome === CloneJobState.FAILED ? message : null,
      ]);
      await publishCloneEvent(this.bus, tx, job.tenantId, {
        jobId: job.id,
        kind: outcome === CloneJobState.CANCELLED ? CloneEventKind.CANCELLED : CloneEventKind.FAILED,
        phase,
        message: `${message}${undone.length > 0 ? ` (undid ${undone.join(', ')})` : ''}`,
      });
    });
    ctx.log.info({ outcome, code, undone, leftovers }, 'clone job ended after compensation');
  }
}

/**
 * What a tenant reads of a failure in its job: our own errors' messages (upstream text in them is
 * already reduced to the fault's own message); anything unexpected could carry anything, so it is
 * logged where it happens and shown only as this.
 */
function tenantMessage(err: unknown): string {
  return err instanceof DomainError || err instanceof PermanentStepError ? err.message : "internal error (the broker's log has the detail)";
}
