/**
 * What happens to guests' clone jobs when the owner of a shared cloud withdraws it (deregisters
 * it or stops sharing it): they are cancelled, as if their own tenant had asked, and undo what
 * they made through the runner's normal cancel path. The owner is never held hostage by a guest.
 */
import { EntityManager } from 'typeorm';
import { CloneEventKind, ClonePhase, CloneJobState } from '../domain/clone-phase';
import { CloudEntity } from '../domain/entities';
import { EventBus } from '../ports/event-bus.port';
import { publishCloneEvent } from '../pipeline/clone-events';
import { AuditService } from './audit.service';

const UNFINISHED = [CloneJobState.QUEUED, CloneJobState.RUNNING, CloneJobState.CANCELLING, CloneJobState.FAILING];

/** Clone jobs not yet ended that use the cloud as source or target: of `tenantId` only, or of everyone else. */
export async function countUnfinishedJobs(tx: EntityManager, cloudId: string, o: { tenantId: string; guests: boolean }): Promise<number> {
  const [row] = (await tx.query(
    `SELECT count(*)::int AS n FROM clone_jobs
     WHERE (target_cloud_id = $1 OR source_cloud_id = $1) AND state = ANY($2)
       AND (CASE WHEN $4::boolean THEN tenant_id <> $3 ELSE tenant_id = $3 END)`,
    [cloudId, UNFINISHED, o.tenantId, o.guests],
  )) as { n: number }[];
  return row.n;
}

/**
 * Moves guests' QUEUED and RUNNING jobs that use the cloud to CANCELLING, in `tx`, with an event
 * on each job's stream and an audit entry in the guest's tenant (neither names the owner). Jobs
 * already undoing end as they are ending. Returns how many were cancelled.
 */
export async function cancelGuestJobs(tx: EntityManager, bus: EventBus, audit: AuditService, cloud: CloudEntity, reason: string): Promise<number> {
  const [rows] = (await tx.query(
    `UPDATE clone_jobs SET state = 'CANCELLING', updated_at = now()
     WHERE (target_cloud_id = $1 OR source_cloud_id = $1) AND tenant_id <> $2 AND state IN ('QUEUED', 'RUNNING')
     RETURNING id, tenant_id, phase`,
    [cloud.id, cloud.tenantId],
  )) as [{ id: string; tenant_id: string; phase: ClonePhase }[], number];
  for (const job of rows) {
    await publishCloneEvent(bus, tx, job.tenant_id, { jobId: job.id, kind: CloneEventKind.PROGRESS, phase: job.phase, message: `cancellation requested: ${reason}` });
    await audit.record(tx, null, job.tenant_id, 'cloneJob.cancel', 'CloneJob', job.id, { cloudId: cloud.id, reason });
  }
  return rows.length;
}
