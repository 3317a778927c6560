/**
 * Runs clone jobs delivered by the job queue. A job is held under a lease (renewed while it
 * runs, and checked before every cloud call) so exactly one broker works on it; a broker that
 * dies or stalls loses the lease and any other replica (or itself after a restart) resumes the
 * job from its last checkpoint. Failures are classified once: a transient one is retried within
 * the step's budget, which the HTTP layer draws from too; a permanent one, a spent budget or a
 * cancellation records the outcome first and then undoes, in reverse order, what every started
 * step made. An undo interrupted by a crash resumes undoing.
 */
import { Logger } from 'pino';
import { CloneEventKind, ClonePhase, CloneJobState, PhaseTiming } from '../domain/clone-phase';
import { CloneJobEntity, VmEntity } from '../domain/entities';
import { VmOrigin } from '../domain/enums';
import { DomainError, ErrorCode, isRetryable, tenantMessage } from '../domain/errors';
import { Backoff, backoffDelay, RetryBudget, sleep, withRetryBudget } from '../domain/retry';
import { EventBus } from '../ports/event-bus.port';
import { JobQueue } from '../ports/job-queue.port';
import { CloneEventPayload, publishCloneEvent } from './clone-events';
import { CloneContextFactory, JobUnrunnableError } from './clone-context.factory';
import { CloneJobStore, LeaseLostError } from './clone-job.store';
import { ProgressThrottle } from './clone-progress';
import { CloneArtefacts, CloneContext, CloneStep, PermanentStepError } from './clone-step';
import { LeaseExpiredError, LeaseFence } from './lease-fence';

export interface CloneRunnerOptions {
  leaseMs: number;
  /** Transient failures one step absorbs, HTTP retries included; also failures outside any step before a job ends FAILED. */
  stepAttempts: number;
  sweepIntervalMs: number;
  /** Between re-runs of a step that failed transiently. */
  stepBackoff: Backoff;
  /** Before a job that failed outside any step is handed out again. */
  runnerBackoff: Backoff;
}

export const DEFAULT_BACKOFFS = {
  stepBackoff: { baseMs: 1000, capMs: 15_000 },
  runnerBackoff: { baseMs: 2000, capMs: 60_000 },
} satisfies Partial<CloneRunnerOptions>;

export interface CloneRunnerDeps {
  store: CloneJobStore;
  bus: EventBus;
  queue: JobQueue;
  contexts: CloneContextFactory;
  steps: readonly CloneStep[];
  logger: Logger;
}

type Outcome = CloneJobState.FAILED | CloneJobState.CANCELLED;

/** This broker is stopping: the job pauses and another broker (or this one, restarted) resumes it. */
class StopRequested extends Error {}
/** The job was cancelled (seen at a lease renewal). */
class CancelRequested extends Error {}

/** Reasons to stop working on a job without touching it further: it is, or soon will be, another broker's. */
function pauseReason(err: unknown): Error | null {
  return err instanceof StopRequested || err instanceof LeaseLostError || err instanceof LeaseExpiredError ? err : null;
}

export class CloneRunner {
  private readonly active = new Map<string, AbortController>();
  private sweeper: NodeJS.Timeout | null = null;
  private stopping = false;

  constructor(
    private readonly deps: CloneRunnerDeps,
    private readonly options: CloneRunnerOptions,
  ) {}

  async start(): Promise<void> {
    await this.deps.queue.workClones((id) => this.run(id));
    await this.sweep();
    this.sweeper = setInterval(() => void this.sweep().catch((err) => this.deps.logger.warn({ err }, 'clone lease sweep failed')), this.options.sweepIntervalMs);
    this.sweeper.unref();
  }

  /** Stops taking jobs; running ones release their lease at the next safe point for another broker to resume. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.sweeper) clearInterval(this.sweeper);
    for (const ac of this.active.values()) ac.abort(new StopRequested('broker stopping'));
    await this.deps.queue.stop();
  }

  /** Re-delivers jobs nobody runs (lease lapsed or released); they resume from their checkpoint. */
  async sweep(): Promise<void> {
    if (this.stopping) return;
    for (const id of await this.deps.store.sweep()) {
      this.deps.logger.info({ jobId: id }, 'handing out a clone job nobody runs');
      await this.deps.queue.enqueueClone(null, id);
    }
  }

  async run(jobId: string): Promise<void> {
    const { store, logger } = this.deps;
    if (this.stopping || !(await store.claim(jobId))) return;
    const ac = new AbortController();
    // Assumed held for 80% of the lease after each renewal was sent: this broker gives up before the database hands the job on.
    const fence = new LeaseFence(jobId, this.options.leaseMs * 0.8);
    this.active.set(jobId, ac);
    // Also how soon a cancellation is noticed, hence at least once a second (one row update).
    const heartbeat = setInterval(() => void this.renew(jobId, ac, fence), Math.min(1000, this.options.leaseMs / 3));
    try {
      await this.execute(jobId, ac.signal, fence);
      await store.release(jobId);
    } catch (err) {
      const paused = pauseReason(err) ?? pauseReason(ac.signal.reason);
      if (paused) {
        logger.info({ jobId, reason: paused.message }, 'clone job paused; another broker will resume it');
        if (paused instanceof StopRequested) await store.release(jobId).catch((e) => logger.warn({ err: e, jobId }, 'could not release clone job lease'));
      } else {
        await this.failedOutsideStep(jobId, err).catch((e) => logger.error({ err: e, jobId }, 'could not record a clone job failure'));
      }
    } finally {
      clearInterval(heartbeat);
      this.active.delete(jobId);
    }
  }

  /** Renews the lease; notices a cancellation or a lost lease. */
  private async renew(jobId: string, ac: AbortController, fence: LeaseFence): Promise<void> {
    const sentAt = fence.stamp();
    try {
      const state = await this.deps.store.renew(jobId);
      if (state === null) {
        fence.lost();
        if (!ac.signal.aborted) ac.abort(new LeaseLostError(jobId));
        return;
      }
      fence.renewed(sentAt);
      if (state === CloneJobState.CANCELLING && !ac.signal.aborted) ac.abort(new CancelRequested('cancelled'));
    } catch (err) {
      this.deps.logger.warn({ err, jobId }, 'could not renew clone job lease');
    }
  }

  /**
   * Something outside any step failed (a cloud that cannot be opened, the database). That is an
   * attempt too: the job is handed out again after a backoff, and after `stepAttempts` such
   * failures it ends FAILED with the cause instead of being re-delivered forever.
   */
  private async failedOutsideStep(jobId: string, err: unknown): Promise<void> {
    const { store, logger } = this.deps;
    const permanent = err instanceof JobUnrunnableError;
    const failures = await store.countRunnerFailure(jobId);
    if (!permanent && failures < this.options.stepAttempts) {
      const delay = backoffDelay(failures, this.options.runnerBackoff);
      logger.warn({ err, jobId, failures, retryInMs: Math.round(delay) }, 'clone job could not run; handing it out again later');
      await store.release(jobId, delay);
      return;
    }
    const job = await store.load(jobId);
    if (!job) return;
    const code = err instanceof DomainError ? err.code : ErrorCode.INTERNAL;
    const cause = err instanceof DomainError || permanent ? (err as Error).message : 'internal error (see the broker log)';
    const message = `could not run the job${permanent ? '' : ` after ${failures} attempts`}: ${cause}; what it made was not undone`;
    logger.error({ err, jobId, failures }, 'clone job failed outside its steps');
    await store.transaction(async (tx) => {
      await store.write(tx, jobId, { state: CloneJobState.FAILED, phase: ClonePhase.FAILED, errorCode: code, errorMessage: message, finishedAt: 'now' });
      await publishCloneEvent(this.deps.bus, tx, job.tenantId, { jobId, kind: CloneEventKind.FAILED, phase: ClonePhase.FAILED, message });
    });
    await store.release(jobId);
  }

  private async execute(jobId: string, signal: AbortSignal, fence: LeaseFence): Promise<void> {
    const job = await this.deps.store.load(jobId);
    if (!job) {
      this.deps.logger.warn({ jobId }, 'clone job no longer exists');
      return;
    }
    const ctx = this.context(job, await this.deps.contexts.open(job, fence), signal);
    if (job.state === CloneJobState.CANCELLING) return this.compensate(ctx, CloneJobState.CANCELLED, null, fence);
    if (job.state === CloneJobState.FAILING) return this.compensate(ctx, CloneJobState.FAILED, null, fence);
    const done = new Set(job.phases.filter((p) => p.finishedAt).map((p) => p.phase));
    for (const step of this.deps.steps) {
      if (!step.applies(ctx) || done.has(step.phase)) continue;
      await this.startPhase(ctx, step.phase);
      const failed = await this.runStep(ctx, step, fence);
      if (failed) return this.compensate(ctx, failed.outcome, failed.cause, fence);
      await this.finishPhase(ctx, step.phase);
    }
    if (!(await this.finish(ctx))) await this.compensate(ctx, CloneJobState.CANCELLED, null, fence);
  }

  /** Runs one step to success, or says how the job ends; throws only to pause. */
  private async runStep(ctx: CloneContext, step: CloneStep, fence: LeaseFence): Promise<{ outcome: Outcome; cause: unknown } | null> {
    const budget = new RetryBudget(this.options.stepAttempts);
    for (;;) {
      try {
        ctx.signal.throwIfAborted();
        fence.assertHeld();
        await withRetryBudget(budget, () => step.run(ctx));
        return null;
      } catch (err) {
        const paused = pauseReason(err) ?? (ctx.signal.aborted ? pauseReason(ctx.signal.reason) : null);
        if (paused) throw paused;
        if (ctx.signal.aborted) return { outcome: CloneJobState.CANCELLED, cause: null };
        budget.spend(err);
        if (!isRetryable(err) || !budget.allowsRetry()) return { outcome: CloneJobState.FAILED, cause: err };
        const delay = Math.round(backoffDelay(budget.failures, this.options.stepBackoff));
        ctx.log.warn({ err, phase: step.phase, failures: budget.failures, delay }, 'clone step failed; retrying');
        await this.event(ctx, { kind: CloneEventKind.PROGRESS, phase: step.phase, message: `attempt failed (${(err as Error).message}); retrying in ${delay} ms` });
        await sleep(delay, ctx.signal).catch(() => undefined); // an abort is handled at the top of the loop
      }
    }
  }

  private context(job: CloneJobEntity, opened: Awaited<ReturnType<CloneContextFactory['open']>>, signal: AbortSignal): CloneContext {
    const { store } = this.deps;
    const log = this.deps.logger.child({ jobId: job.id, sourceCloudId: opened.source.cloud.id, cloudId: opened.target.cloud.id });
    const artefacts = job.artefacts as CloneArtefacts;
    const throttle = new ProgressThrottle((r) => {
      job.bytesTransferred = r.bytesTransferred;
      job.bytesTotal = r.bytesTotal;
      void this.progressEvent(job, r).catch((err) => log.warn({ err }, 'could not store progress'));
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
      progress: (bytes, total) => throttle.update(bytes, total),
    };
  }

  private async progressEvent(job: CloneJobEntity, r: { bytesTransferred: number; bytesTotal: number | null; bytesPerSecond: number; etaSeconds: number | null }): Promise<void> {
    const { store } = this.deps;
    await store.transaction(async (tx) => {
      await store.write(tx, job.id, { bytesTransferred: r.bytesTransferred, bytesTotal: r.bytesTotal });
      await publishCloneEvent(this.deps.bus, tx, job.tenantId, { jobId: job.id, kind: CloneEventKind.PROGRESS, phase: ClonePhase.TRANSFER, ...r });
    });
  }

  private async event(ctx: CloneContext, e: Pick<CloneEventPayload, 'kind' | 'phase'> & Partial<CloneEventPayload>): Promise<void> {
    await this.deps.store.transaction((tx) => publishCloneEvent(this.deps.bus, tx, ctx.job.tenantId, { jobId: ctx.job.id, ...e }));
  }

  /** Phase bookkeeping and its event commit together; `state` is never written here (a cancel may have set it). */
  private async savePhases(ctx: CloneContext, event: Pick<CloneEventPayload, 'kind' | 'phase'> & Partial<CloneEventPayload>): Promise<void> {
    const { job } = ctx;
    const { store } = this.deps;
    await store.transaction(async (tx) => {
      await store.write(tx, job.id, { phase: job.phase, phases: job.phases });
      await publishCloneEvent(this.deps.bus, tx, job.tenantId, { jobId: job.id, ...event });
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
   * The clone becomes a VM the broker knows; false when a cancellation arrived first (then
   * nothing is written and the caller undoes). Cross-cloud, the source snapshot is no longer
   * needed; it is deleted before DONE is committed because nothing comes back to a DONE job: a
   * broker dying in between leaves a RUNNING job whose resume deletes it again (404 is fine).
   */
  private async finish(ctx: CloneContext): Promise<boolean> {
    const { job, artefacts } = ctx;
    const { store } = this.deps;
    if (!ctx.intraCloud && artefacts.snapshotImageId) {
      await ctx.source.api.deleteImage(artefacts.snapshotImageId).catch((err) => {
        if (pauseReason(err)) throw err;
        ctx.log.warn({ err }, 'could not delete the source snapshot');
      });
    }
    const server = await ctx.target.api.getServer(artefacts.serverId!);
    const done = await store.transaction(async (tx) => {
      if (!(await store.write(tx, job.id, { state: CloneJobState.DONE, phase: ClonePhase.DONE, finishedAt: 'now' }, [CloneJobState.RUNNING]))) return false;
      let vm = await tx.findOne(VmEntity, { where: { cloudId: ctx.target.cloud.id, serverId: artefacts.serverId! } });
      if (vm && vm.tenantId !== job.tenantId) {
        // A server id another tenant already registered in this cloud: never adopt their row.
        throw new Error(`server ${artefacts.serverId} in cloud ${ctx.target.cloud.id} is already known to the broker under another tenant`);
      }
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
      await store.write(tx, job.id, { resultVmId: vm.id });
      const total = Date.now() - job.createdAt.getTime();
      await publishCloneEvent(this.deps.bus, tx, job.tenantId, {
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
   * Ends the job FAILED or CANCELLED. The outcome and its cause are recorded first (FAILING or
   * CANCELLING), so a broker that dies while undoing leaves a job that resumes undoing; then
   * every started step is undone in reverse order, each after confirming the lease in the
   * database, so a broker that lost the job never deletes what the new owner made.
   */
  private async compensate(ctx: CloneContext, wanted: Outcome, cause: unknown, fence: LeaseFence): Promise<void> {
    const { job } = ctx;
    const { store } = this.deps;
    const outcome = await this.recordOutcome(ctx, wanted, cause);
    const undone: string[] = [];
    const leftovers: string[] = [];
    const started = new Set(job.phases.map((p) => p.phase));
    for (const step of [...this.deps.steps].reverse()) {
      if (!started.has(step.phase) || !step.undo) continue;
      for (let attempt = 1; attempt <= 3; attempt++) {
        const sentAt = fence.stamp();
        if ((await store.renew(job.id)) === null) throw new LeaseLostError(job.id);
        fence.renewed(sentAt);
        try {
          await step.undo(ctx);
          undone.push(step.phase);
          break;
        } catch (err) {
          if (pauseReason(err)) throw err;
          ctx.log.warn({ err, phase: step.phase, attempt }, 'undo failed');
          if (attempt === 3) leftovers.push(`${step.phase}: ${tenantMessage(err)}`);
          else await sleep(backoffDelay(attempt, { baseMs: 500, capMs: 4000 }));
        }
      }
    }
    const phase = outcome === CloneJobState.CANCELLED ? ClonePhase.CANCELLED : ClonePhase.FAILED;
    let message = outcome === CloneJobState.FAILED ? (job.errorMessage ?? 'failed') : 'cancelled';
    if (leftovers.length > 0) message += `; could not undo ${leftovers.join('; ')}`;
    await store.transaction(async (tx) => {
      await store.write(tx, job.id, { state: outcome, phase, finishedAt: 'now', errorMessage: outcome === CloneJobState.FAILED ? message : null });
      await publishCloneEvent(this.deps.bus, tx, job.tenantId, {
        jobId: job.id,
        kind: outcome === CloneJobState.CANCELLED ? CloneEventKind.CANCELLED : CloneEventKind.FAILED,
        phase,
        message: `${message}${undone.length > 0 ? ` (undid ${undone.join(', ')})` : ''}`,
      });
    });
    ctx.log.info({ outcome, code: job.errorCode, undone, leftovers }, 'clone job ended after compensation');
  }

  /**
   * FAILING with its cause, or CANCELLING, before anything is undone. A failure that races a
   * cancellation is a cancellation (the user asked first, or at the same time). Returns the
   * outcome the job will end with.
   */
  private async recordOutcome(ctx: CloneContext, wanted: Outcome, cause: unknown): Promise<Outcome> {
    const { job } = ctx;
    const { store } = this.deps;
    if (job.state === CloneJobState.FAILING) return CloneJobState.FAILED;
    if (job.state === CloneJobState.CANCELLING) return CloneJobState.CANCELLED;
    if (wanted === CloneJobState.FAILED) {
      const code = cause instanceof PermanentStepError || cause instanceof DomainError ? cause.code : ErrorCode.INTERNAL;
      const message = cause instanceof PermanentStepError || cause instanceof DomainError ? cause.message : 'internal error (see the broker log)';
      if (!(cause instanceof PermanentStepError) && !(cause instanceof DomainError)) ctx.log.error({ err: cause }, 'clone step failed with an unexpected error');
      const recorded = await store.transaction(async (tx) => {
        if (!(await store.write(tx, job.id, { state: CloneJobState.FAILING, errorCode: code, errorMessage: message }, [CloneJobState.RUNNING]))) return false;
        await publishCloneEvent(this.deps.bus, tx, job.tenantId, { jobId: job.id, kind: CloneEventKind.PROGRESS, phase: job.phase, message: `failed (${message}); undoing what the job made` });
        return true;
      });
      if (recorded) {
        Object.assign(job, { state: CloneJobState.FAILING, errorCode: code, errorMessage: message });
        return CloneJobState.FAILED;
      }
    }
    // Cancelled (by the user, seen at a renewal or at DONE): the service already wrote CANCELLING.
    job.state = CloneJobState.CANCELLING;
    return CloneJobState.CANCELLED;
  }
}

