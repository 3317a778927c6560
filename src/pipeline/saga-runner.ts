/**
 * The machinery every durable job shares (clone jobs, scale-down jobs): a job is held under a
 * lease (renewed while it runs, and checked before every outside call through the fence) so
 * exactly one broker works on it; a broker that dies or stalls loses the lease and any other
 * replica (or itself after a restart) resumes the job from its last checkpoint. Failures are
 * classified once: a transient one is retried within the step's budget, which the HTTP layer
 * draws from too; a permanent one, a spent budget or a cancellation records the outcome first
 * and then undoes, in reverse order, what every started step made. An undo interrupted by a
 * crash resumes undoing. A kind of job supplies its steps, how to open a job, how to publish
 * its events and how it finishes.
 */
import { Logger } from 'pino';
import { EntityManager } from 'typeorm';
import { CloneEventKind, CloneJobState, PermanentStepError, PhaseTiming } from '../domain/clone-phase';
import { DomainError, ErrorCode, isRetryable, tenantMessage } from '../domain/errors';
import { Backoff, backoffDelay, RetryBudget, sleep, withRetryBudget } from '../domain/retry';
import { JobKind, JobQueue } from '../ports/job-queue.port';
import { JobStore, LeaseLostError } from './job.store';
import { LeaseExpiredError, LeaseFence } from './lease-fence';

/** Something that opening a job needs is gone: retrying the job will not bring it back. */
export class JobUnrunnableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobUnrunnableError';
  }
}

/** What the machinery reads and writes of a job (clone and scale-down entities have these columns). */
export interface SagaJob {
  id: string;
  tenantId: string;
  state: CloneJobState;
  phase: string;
  phases: PhaseTiming<string>[];
  errorCode: string | null;
  errorMessage: string | null;
}

export interface SagaContext<J extends SagaJob> {
  readonly job: J;
  /** Aborted when the job is cancelled, this broker stops or its lease is lost. */
  readonly signal: AbortSignal;
  readonly log: Logger;
}

export interface SagaStep<C> {
  readonly phase: string;
  applies(ctx: C): boolean;
  /** Idempotent: looks for what an earlier attempt made before making it again. */
  run(ctx: C): Promise<void>;
  /** Idempotent undo of whatever the step (or a partial attempt of it) made. */
  undo?(ctx: C): Promise<void>;
}

/** An event of a job's stream, as the machinery publishes it (kinds publish their own extras). */
export interface SagaEvent {
  kind: CloneEventKind;
  phase: string;
  message?: string | null;
}

export interface SagaRunnerOptions {
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
} satisfies Partial<SagaRunnerOptions>;

export interface SagaRunnerDeps<J extends SagaJob, C extends SagaContext<J>> {
  kind: JobKind;
  store: JobStore<J>;
  queue: JobQueue;
  steps: readonly SagaStep<C>[];
  logger: Logger;
}

export type Outcome = CloneJobState.FAILED | CloneJobState.CANCELLED;

/** This broker is stopping: the job pauses and another broker (or this one, restarted) resumes it. */
class StopRequested extends Error {}
/** The job was cancelled (seen at a lease renewal). */
class CancelRequested extends Error {}

/** Reasons to stop working on a job without touching it further: it is, or soon will be, another broker's. */
export function pauseReason(err: unknown): Error | null {
  return err instanceof StopRequested || err instanceof LeaseLostError || err instanceof LeaseExpiredError ? err : null;
}

export abstract class SagaRunner<J extends SagaJob, C extends SagaContext<J>> {
  private readonly active = new Map<string, AbortController>();
  private sweeper: NodeJS.Timeout | null = null;
  private stopping = false;

  constructor(
    protected readonly deps: SagaRunnerDeps<J, C>,
    protected readonly options: SagaRunnerOptions,
  ) {}

  /** Opens what the job works on (its clouds, VMs, integrations) into a step context. */
  protected abstract open(job: J, fence: LeaseFence, signal: AbortSignal): Promise<C>;
  /** Publishes one event on the job's stream in `tx`. */
  protected abstract publish(tx: EntityManager, job: J, event: SagaEvent & Record<string, unknown>): Promise<void>;
  /**
   * Writes DONE (only while the job is RUNNING: `store.write(..., [RUNNING])`) with whatever the
   * kind records for a finished job; false when a cancellation arrived first (then nothing is
   * written and the runner undoes). A PermanentStepError (with nothing written) fails the job,
   * which is then undone.
   */
  protected abstract finish(ctx: C): Promise<boolean>;

  /** After the job ended FAILED or CANCELLED (a kind releases what only running jobs needed); failures are only logged. */
  protected async ended(_job: J): Promise<void> {}

  async start(concurrency: number): Promise<void> {
    await this.deps.queue.work(this.deps.kind, concurrency, (id) => this.run(id));
    await this.sweep();
    this.sweeper = setInterval(() => void this.sweep().catch((err) => this.deps.logger.warn({ err, kind: this.deps.kind }, 'lease sweep failed')), this.options.sweepIntervalMs);
    this.sweeper.unref();
  }

  /** Stops taking jobs; running ones release their lease at the next safe point for another broker to resume. */
  stop(): void {
    this.stopping = true;
    if (this.sweeper) clearInterval(this.sweeper);
    for (const ac of this.active.values()) ac.abort(new StopRequested('broker stopping'));
  }

  /** Re-delivers jobs nobody runs (lease lapsed or released); they resume from their checkpoint. */
  async sweep(): Promise<void> {
    if (this.stopping) return;
    for (const id of await this.deps.store.sweep()) {
      this.deps.logger.info({ jobId: id, kind: this.deps.kind }, 'handing out a job nobody runs');
      await this.deps.queue.enqueue(this.deps.kind, null, id);
    }
  }

  async run(jobId: string): Promise<void> {
    const { store, logger, kind } = this.deps;
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
        logger.info({ jobId, kind, reason: paused.message }, 'job paused; another broker will resume it');
        if (paused instanceof StopRequested) await store.release(jobId).catch((e) => logger.warn({ err: e, jobId }, 'could not release the job lease'));
      } else {
        await this.failedOutsideStep(jobId, err).catch((e) => logger.error({ err: e, jobId }, 'could not record a job failure'));
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
      this.deps.logger.warn({ err, jobId }, 'could not renew the job lease');
    }
  }

  /**
   * Something outside any step failed (an integration that cannot be opened, the database).
   * That is an attempt too: the job is handed out again after a backoff, and after
   * `stepAttempts` such failures it ends FAILED with the cause instead of being re-delivered
   * for ever.
   */
  private async failedOutsideStep(jobId: string, err: unknown): Promise<void> {
    const { store, logger } = this.deps;
    const permanent = err instanceof JobUnrunnableError;
    const failures = await store.countRunnerFailure(jobId);
    if (!permanent && failures < this.options.stepAttempts) {
      const delay = backoffDelay(failures, this.options.runnerBackoff);
      logger.warn({ err, jobId, failures, retryInMs: Math.round(delay) }, 'job could not run; handing it out again later');
      await store.release(jobId, delay);
      return;
    }
    const job = await store.load(jobId);
    if (!job) return;
    const code = err instanceof DomainError ? err.code : ErrorCode.INTERNAL;
    const cause = err instanceof DomainError || permanent ? (err as Error).message : 'internal error (see the broker log)';
    const message = `could not run the job${permanent ? '' : ` after ${failures} attempts`}: ${cause}; what it made was not undone`;
    logger.error({ err, jobId, failures }, 'job failed outside its steps');
    await store.transaction(async (tx) => {
      await store.write(tx, jobId, { state: CloneJobState.FAILED, phase: 'FAILED', errorCode: code, errorMessage: message, finishedAt: 'now' });
      await this.publish(tx, job, { kind: CloneEventKind.FAILED, phase: 'FAILED', message });
    });
    await store.release(jobId);
    await this.ended(job).catch((e) => logger.warn({ err: e, jobId }, 'could not release what the ended job held'));
  }

  private async execute(jobId: string, signal: AbortSignal, fence: LeaseFence): Promise<void> {
    const job = await this.deps.store.load(jobId);
    if (!job) {
      this.deps.logger.warn({ jobId }, 'job no longer exists');
      return;
    }
    const ctx = await this.open(job, fence, signal);
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
    let finished: boolean;
    try {
      finished = await this.finish(ctx);
    } catch (err) {
      // finish() refusing for good wrote nothing: the job is undone like a step that failed for good,
      // rather than handed out again until it ends FAILED with what it made left behind.
      if (err instanceof PermanentStepError) return this.compensate(ctx, CloneJobState.FAILED, err, fence);
      throw err;
    }
    if (!finished) await this.compensate(ctx, CloneJobState.CANCELLED, null, fence);
  }

  /** Runs one step to success, or says how the job ends; throws only to pause. */
  private async runStep(ctx: C, step: SagaStep<C>, fence: LeaseFence): Promise<{ outcome: Outcome; cause: unknown } | null> {
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
        ctx.log.warn({ err, phase: step.phase, failures: budget.failures, delay }, 'job step failed; retrying');
        await this.event(ctx, { kind: CloneEventKind.PROGRESS, phase: step.phase, message: `attempt failed (${tenantMessage(err)}); retrying in ${delay} ms` });
        await sleep(delay, ctx.signal).catch(() => undefined); // an abort is handled at the top of the loop
      }
    }
  }

  /** Publishes an event in a transaction of its own. */
  protected async event(ctx: C, e: SagaEvent & Record<string, unknown>): Promise<void> {
    await this.deps.store.transaction((tx) => this.publish(tx, ctx.job, e));
  }

  /** Phase bookkeeping and its event commit together; `state` is never written here (a cancel may have set it). */
  private async savePhases(ctx: C, event: SagaEvent & Record<string, unknown>): Promise<void> {
    const { job } = ctx;
    const { store } = this.deps;
    await store.transaction(async (tx) => {
      await store.write(tx, job.id, { phase: job.phase, phases: job.phases });
      await this.publish(tx, job, event);
    });
  }

  private async startPhase(ctx: C, phase: string): Promise<void> {
    const { job } = ctx;
    const resumed = job.phases.some((p) => p.phase === phase && !p.finishedAt);
    if (!resumed) job.phases.push({ phase, startedAt: new Date().toISOString(), finishedAt: null, durationMs: null });
    job.phase = phase;
    ctx.log.info({ phase, resumed }, 'job phase started');
    await this.savePhases(ctx, { kind: CloneEventKind.PHASE_STARTED, phase, message: resumed ? 'resumed from checkpoint' : null });
  }

  private async finishPhase(ctx: C, phase: string): Promise<void> {
    const timing = ctx.job.phases.find((p) => p.phase === phase && !p.finishedAt) as PhaseTiming<string>;
    const now = new Date();
    timing.finishedAt = now.toISOString();
    timing.durationMs = now.getTime() - new Date(timing.startedAt).getTime();
    ctx.log.info({ phase, durationMs: timing.durationMs }, 'job phase completed');
    await this.savePhases(ctx, { kind: CloneEventKind.PHASE_COMPLETED, phase, ...this.phaseCompletedExtras(ctx) });
  }

  /** What a kind adds to its PHASE_COMPLETED events (clone jobs: byte counts). */
  protected phaseCompletedExtras(_ctx: C): Record<string, unknown> {
    return {};
  }

  /**
   * Ends the job FAILED or CANCELLED. The outcome and its cause are recorded first (FAILING or
   * CANCELLING), so a broker that dies while undoing leaves a job that resumes undoing; then
   * every started step is undone in reverse order, each after confirming the lease in the
   * database, so a broker that lost the job never deletes what the new owner made.
   */
  private async compensate(ctx: C, wanted: Outcome, cause: unknown, fence: LeaseFence): Promise<void> {
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
    const phase = outcome === CloneJobState.CANCELLED ? 'CANCELLED' : 'FAILED';
    let message = outcome === CloneJobState.FAILED ? (job.errorMessage ?? 'failed') : 'cancelled';
    if (leftovers.length > 0) message += `; could not undo ${leftovers.join('; ')}`;
    await store.transaction(async (tx) => {
      await store.write(tx, job.id, { state: outcome, phase, finishedAt: 'now', errorMessage: outcome === CloneJobState.FAILED ? message : null });
      await this.publish(tx, job, {
        kind: outcome === CloneJobState.CANCELLED ? CloneEventKind.CANCELLED : CloneEventKind.FAILED,
        phase,
        message: `${message}${undone.length > 0 ? ` (undid ${undone.join(', ')})` : ''}`,
      });
    });
    ctx.log.info({ outcome, code: job.errorCode, undone, leftovers }, 'job ended after compensation');
    await this.ended(job).catch((err) => ctx.log.warn({ err }, 'could not release what the ended job held'));
  }

  /**
   * FAILING with its cause, or CANCELLING, before anything is undone. A failure that races a
   * cancellation is a cancellation (the user asked first, or at the same time). Returns the
   * outcome the job will end with.
   */
  private async recordOutcome(ctx: C, wanted: Outcome, cause: unknown): Promise<Outcome> {
    const { job } = ctx;
    const { store } = this.deps;
    if (job.state === CloneJobState.FAILING) return CloneJobState.FAILED;
    if (job.state === CloneJobState.CANCELLING) return CloneJobState.CANCELLED;
    if (wanted === CloneJobState.FAILED) {
      const known = cause instanceof PermanentStepError || cause instanceof DomainError;
      const code = known ? cause.code : ErrorCode.INTERNAL;
      const message = known ? cause.message : 'internal error (see the broker log)';
      if (!known) ctx.log.error({ err: cause }, 'job step failed with an unexpected error');
      const recorded = await store.transaction(async (tx) => {
        if (!(await store.write(tx, job.id, { state: CloneJobState.FAILING, errorCode: code, errorMessage: message }, [CloneJobState.RUNNING]))) return false;
        await this.publish(tx, job, { kind: CloneEventKind.PROGRESS, phase: job.phase, message: `failed (${message}); undoing what the job made` });
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
