/**
 * Removing a VM: `scaleDownVm` starts a durable scale-down job (src/pipeline/scale-down), refused
 * when it would leave the VM type below its minimum or without any instance; the job's events
 * and state are read here too.
 */
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { CloneEventKind, CloneJobState, isTerminal } from '../domain/clone-phase';
import { ScaleDownJobEntity, VmEntity, VmTypeEntity } from '../domain/entities';
import { BadUserInputError, ConflictError, NotFoundError } from '../domain/errors';
import { Principal } from '../domain/principal';
import { Permission } from '../domain/roles';
import { ScaleDownPhase, scaleDownRefusal } from '../domain/scale-down';
import { BusEvent, EventBus } from '../ports/event-bus.port';
import { JobQueue } from '../ports/job-queue.port';
import { emptyEvents, endingAfterTerminal } from '../pipeline/clone-events';
import { publishScaleDownEvent, scaleDownJobStream } from '../pipeline/scale-down/scale-down-events';
import { requirePermission } from './access';
import { AuditService } from './audit.service';
import { pageSizeRule, parseInput, uuidRule } from './validation';

export class ScaleDownService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly bus: EventBus,
    private readonly queue: JobQueue,
    private readonly audit: AuditService,
  ) {}

  /**
   * Starts removing one of the caller's VMs. The bound is checked under a lock on the VM type,
   * so two removals started at once cannot both pass it; a VM already being removed answers
   * with its job (the same request twice starts one removal).
   */
  async scaleDownVm(principal: Principal, vmId: string, reason: string | null = null): Promise<ScaleDownJobEntity> {
    requirePermission(principal, Permission.MANAGE_SCALING);
    parseInput(uuidRule, vmId, 'vmId');
    try {
      return await this.start(principal, vmId, reason);
    } catch (err) {
      // A concurrent request for the same VM won the insert (one live removal per VM): answer with its job.
      if ((err as { code?: string }).code !== '23505') throw err;
      const [running] = (await this.dataSource.query(`SELECT id FROM scale_down_jobs WHERE vm_id = $1 AND tenant_id = $2 AND state NOT IN ('DONE','FAILED','CANCELLED')`, [vmId, principal.tenantId])) as { id: string }[];
      if (!running) throw err;
      return this.dataSource.getRepository(ScaleDownJobEntity).findOneByOrFail({ id: running.id });
    }
  }

  private async start(principal: Principal, vmId: string, reason: string | null): Promise<ScaleDownJobEntity> {
    return this.dataSource.transaction(async (tx) => {
      const vm = await tx.findOne(VmEntity, { where: { id: vmId, tenantId: principal.tenantId } });
      if (!vm) throw new NotFoundError('Vm', vmId);
      if (vm.retiredAt) throw new BadUserInputError('vmId', 'must be a VM the broker still manages (this one is retired)');
      const [running] = (await tx.query(`SELECT id FROM scale_down_jobs WHERE vm_id = $1 AND state NOT IN ('DONE','FAILED','CANCELLED')`, [vm.id])) as { id: string }[];
      if (running) return tx.findOneByOrFail(ScaleDownJobEntity, { id: running.id });
      let vmType: VmTypeEntity | null = null;
      if (vm.vmTypeId) {
        // Serialises removals within a VM type: the count below is then the count the job acts on.
        vmType = await tx.findOne(VmTypeEntity, { where: { id: vm.vmTypeId }, lock: { mode: 'pessimistic_write' } });
        const [{ n }] = await tx.query(
          `SELECT count(*)::int AS n FROM vms v
           WHERE v.vm_type_id = $1 AND v.retired_at IS NULL
             AND NOT EXISTS (SELECT 1 FROM scale_down_jobs j WHERE j.vm_id = v.id AND j.state NOT IN ('DONE','FAILED','CANCELLED'))`,
          [vm.vmTypeId],
        );
        const refusal = scaleDownRefusal(n, vmType?.minInstances ?? 0);
        if (refusal) throw new ConflictError(`VM ${vm.name} is not removed: ${refusal}`, { field: 'vmId', rule: refusal });
      }
      const job = await tx.save(
        tx.create(ScaleDownJobEntity, {
          tenantId: principal.tenantId,
          vmId: vm.id,
          vmTypeId: vm.vmTypeId,
          reason,
          phase: ScaleDownPhase.QUEUED,
          state: CloneJobState.QUEUED,
          phases: [],
          artefacts: {},
          requestedByTokenId: principal.tokenId,
        }),
      );
      await publishScaleDownEvent(this.bus, tx, job.tenantId, { jobId: job.id, vmId: vm.id, kind: CloneEventKind.PHASE_STARTED, phase: ScaleDownPhase.QUEUED, message: `removal of ${vm.name} queued${reason ? `: ${reason}` : ''}` });
      await this.audit.record(tx, principal, principal.tenantId, 'scaleDownJob.create', 'ScaleDownJob', job.id, { vmId: vm.id, reason });
      await this.queue.enqueue('scale-down', tx, job.id);
      return job;
    });
  }

  async get(principal: Principal, id: string): Promise<ScaleDownJobEntity> {
    requirePermission(principal, Permission.READ);
    parseInput(uuidRule, id, 'id');
    const job = await this.dataSource.getRepository(ScaleDownJobEntity).findOne({ where: { id, tenantId: principal.tenantId } });
    if (!job) throw new NotFoundError('ScaleDownJob', id);
    return job;
  }

  /** The tenant's scale-down jobs, newest first (optionally of one VM). */
  async list(principal: Principal, args: { vmId?: string | null; first?: number | null }): Promise<ScaleDownJobEntity[]> {
    requirePermission(principal, Permission.READ);
    const first = parseInput(pageSizeRule(50), args.first ?? undefined, 'first');
    const where = { tenantId: principal.tenantId, ...(args.vmId ? { vmId: parseInput(uuidRule, args.vmId, 'vmId') } : {}) };
    return this.dataSource.getRepository(ScaleDownJobEntity).find({ where, order: { createdAt: 'DESC' }, take: first });
  }

  /** Stored events after `afterSeq`, then live ones; completes after the terminal event. */
  async events(principal: Principal, jobId: string, afterSeq: number | null | undefined): Promise<AsyncIterableIterator<BusEvent>> {
    requirePermission(principal, Permission.READ);
    parseInput(uuidRule, jobId, 'jobId');
    const after = parseInput(z.number().int().min(0, 'must not be negative').default(0), afterSeq ?? undefined, 'afterSeq');
    const job = await this.dataSource.getRepository(ScaleDownJobEntity).findOne({ where: { id: jobId, tenantId: principal.tenantId } });
    if (!job) throw new NotFoundError('ScaleDownJob', jobId);
    if (isTerminal(job.state)) {
      const [row] = await this.dataSource.query(`SELECT last_seq FROM event_streams WHERE stream = $1`, [scaleDownJobStream(job.id)]);
      if (!row || Number(row.last_seq) <= after) return emptyEvents();
    }
    return endingAfterTerminal(this.bus.subscribeStream(scaleDownJobStream(job.id), after));
  }
}
