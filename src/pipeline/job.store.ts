/**
 * Every SQL statement about a durable job's lease, checkpoint and state, in one place, for both
 * kinds of job (clone jobs and scale-down jobs share the columns that matter here). The runner
 * decides; the store reads and writes. Writes made while a job runs are fenced by its lease:
 * they apply only while this broker still owns the job, so a broker that stalled past its lease
 * cannot overwrite what the broker that took over has written.
 */
import { DataSource, EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';
import { CloneJobState, PhaseTiming } from '../domain/clone-phase';

/** This broker no longer owns the job (its lease lapsed and another broker took it). */
export class LeaseLostError extends Error {
  constructor(jobId: string) {
    super(`lost the lease on job ${jobId}`);
    this.name = 'LeaseLostError';
  }
}

/** The tables of the job kinds (fixed names, never input). */
export type JobTable = 'clone_jobs' | 'scale_down_jobs';

/** Columns the runner writes, by their names in code. */
export interface JobPatch {
  state?: CloneJobState;
  phase?: string;
  phases?: PhaseTiming<string>[];
  artefacts?: Record<string, unknown>;
  bytesTotal?: number | null;
  bytesTransferred?: number;
  errorCode?: string | null;
  errorMessage?: string | null;
  resultVmId?: string;
  /** A STANDBY clone job: the standby image it made. */
  standbyImageId?: string;
  /** `now` is the database's clock. */
  finishedAt?: 'now';
}

const COLUMNS: Record<keyof JobPatch, { column: string; json?: boolean }> = {
  state: { column: 'state' },
  phase: { column: 'phase' },
  phases: { column: 'phases', json: true },
  artefacts: { column: 'artefacts', json: true },
  bytesTotal: { column: 'bytes_total' },
  bytesTransferred: { column: 'bytes_transferred' },
  errorCode: { column: 'error_code' },
  errorMessage: { column: 'error_message' },
  resultVmId: { column: 'result_vm_id' },
  standbyImageId: { column: 'standby_image_id' },
  finishedAt: { column: 'finished_at' },
};

/** States in which a job still has work to do (run forward, or undo). */
const LIVE_STATES = [CloneJobState.QUEUED, CloneJobState.RUNNING, CloneJobState.CANCELLING, CloneJobState.FAILING];

/** A lease that a sweep handed to the queue, not yet claimed by any broker. */
const REQUEUED = 'requeued';

export class JobStore<J extends ObjectLiteral> {
  constructor(
    private readonly dataSource: DataSource,
    private readonly entity: EntityTarget<J>,
    private readonly table: JobTable,
    /** This broker's name in leases. */
    readonly owner: string,
    private readonly leaseMs: number,
  ) {}

  load(jobId: string): Promise<J | null> {
    return this.dataSource.getRepository(this.entity).findOneBy({ id: jobId } as never);
  }

  transaction<T>(fn: (tx: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(fn);
  }

  /** Takes the lease of a live job whose lease is free, handed to the queue, or lapsed. */
  async claim(jobId: string): Promise<boolean> {
    // SKIP LOCKED: a row another session holds (a broker stalled inside a transaction) is not waited for; a later sweep hands it out again.
    const rows = await this.returning<{ id: string }>(
      `UPDATE ${this.table} SET lease_owner = $2, lease_expires_at = now() + make_interval(secs => $3),
         state = CASE WHEN state = 'QUEUED' THEN 'RUNNING' ELSE state END
       WHERE id = (SELECT id FROM ${this.table} WHERE id = $1 AND state = ANY($4)
                     AND (lease_owner = '${REQUEUED}' OR lease_expires_at IS NULL OR lease_expires_at < now())
                   FOR UPDATE SKIP LOCKED)
       RETURNING id`,
      [jobId, this.owner, this.leaseMs / 1000, LIVE_STATES],
    );
    return rows.length > 0;
  }

  /** Extends the lease; the job's state, or null when the lease is no longer ours. */
  async renew(jobId: string): Promise<CloneJobState | null> {
    const rows = await this.returning<{ state: CloneJobState }>(
      `UPDATE ${this.table} SET lease_expires_at = now() + make_interval(secs => $3) WHERE id = $1 AND lease_owner = $2 RETURNING state`,
      [jobId, this.owner, this.leaseMs / 1000],
    );
    return rows[0]?.state ?? null;
  }

  /**
   * Gives the lease up. With `retryAfterMs` the job is not handed out again before then (a
   * failure outside a step backs off); without, the next sweep hands it to whoever is free.
   */
  async release(jobId: string, retryAfterMs?: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE ${this.table} SET lease_owner = NULL,
         lease_expires_at = CASE WHEN $3::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $3::float8) END
       WHERE id = $1 AND lease_owner = $2`,
      [jobId, this.owner, retryAfterMs === undefined ? null : retryAfterMs / 1000],
    );
  }

  /**
   * Live jobs nobody runs: a lapsed or released lease, a hand-over nobody claimed in time, or a
   * QUEUED job whose delivery was lost (a broker died between taking it from the queue and
   * claiming it). Each is marked handed-over for one lease and returned for re-delivery.
   */
  async sweep(): Promise<string[]> {
    // SKIP LOCKED: every replica sweeps; none waits on rows another holds.
    const rows = await this.returning<{ id: string }>(
      `UPDATE ${this.table} SET lease_owner = '${REQUEUED}', lease_expires_at = now() + make_interval(secs => $1)
       WHERE id IN (
         SELECT id FROM ${this.table}
         WHERE (state IN ('RUNNING', 'CANCELLING', 'FAILING') AND (lease_expires_at IS NULL OR lease_expires_at < now()))
            OR (state = 'QUEUED' AND (lease_expires_at < now() OR (lease_expires_at IS NULL AND created_at < now() - make_interval(secs => $1 * 2))))
         FOR UPDATE SKIP LOCKED)
       RETURNING id`,
      [this.leaseMs / 1000],
    );
    return rows.map((r) => r.id);
  }

  /**
   * Writes job columns while this broker holds the lease, and (with `inStates`) only while the
   * job is in one of those states. Throws LeaseLostError when the lease is gone (the caller's
   * transaction, with its events, rolls back); false when the lease is held but the state was
   * another (a cancellation arrived).
   */
  async write(tx: EntityManager, jobId: string, patch: JobPatch, inStates?: readonly CloneJobState[]): Promise<boolean> {
    const params: unknown[] = [jobId, this.owner];
    const assignments = ['updated_at = now()'];
    for (const [key, value] of Object.entries(patch) as [keyof JobPatch, unknown][]) {
      if (value === undefined) continue;
      const { column, json } = COLUMNS[key];
      if (value === 'now' && key === 'finishedAt') {
        assignments.push(`${column} = now()`);
        continue;
      }
      params.push(json ? JSON.stringify(value) : value);
      assignments.push(`${column} = $${params.length}`);
    }
    let stateClause = '';
    if (inStates) {
      params.push(inStates);
      stateClause = ` AND state = ANY($${params.length})`;
    }
    const [, count] = (await tx.query(`UPDATE ${this.table} SET ${assignments.join(', ')} WHERE id = $1 AND lease_owner = $2${stateClause}`, params)) as [unknown, number];
    if (count > 0) return true;
    const [row] = (await tx.query(`SELECT lease_owner FROM ${this.table} WHERE id = $1`, [jobId])) as { lease_owner: string | null }[];
    if (row?.lease_owner !== this.owner) throw new LeaseLostError(jobId);
    return false;
  }

  /** Counts one failure of this broker to run the job outside any step; the new count. */
  async countRunnerFailure(jobId: string): Promise<number> {
    const rows = await this.returning<{ runner_failures: number }>(
      `UPDATE ${this.table} SET runner_failures = runner_failures + 1, updated_at = now() WHERE id = $1 AND lease_owner = $2 RETURNING runner_failures`,
      [jobId, this.owner],
    );
    if (rows.length === 0) throw new LeaseLostError(jobId);
    return rows[0].runner_failures;
  }

  /** TypeORM answers an UPDATE with [rows, count]; this gives the RETURNING rows. */
  private async returning<T>(sql: string, params: unknown[]): Promise<T[]> {
    const [rows] = (await this.dataSource.query(sql, params)) as [T[], number];
    return rows;
  }
}
