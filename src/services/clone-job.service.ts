/** Starting and cancelling clones, and their event streams. The pipeline (src/pipeline) runs them. */
import crypto from 'node:crypto';
import { DataSource, EntityManager, IsNull } from 'typeorm';
import { z } from 'zod';
import { CloneEventKind, CloneJobPurpose, ClonePhase, CloneJobState, isTerminal, terminalStates } from '../domain/clone-phase';
import { CloneJobEntity, CloudEntity, StandbyImageEntity, VmEntity, VmTypeEntity } from '../domain/entities';
import { CloudHealth, VmOrigin } from '../domain/enums';
import { BadUserInputError, ConflictError, NotFoundError, tenantMessage, UpstreamUnavailableError } from '../domain/errors';
import { Placement } from '../domain/matchmaking';
import { Principal } from '../domain/principal';
import { Permission } from '../domain/roles';
import { BusEvent, EventBus } from '../ports/event-bus.port';
import { JobQueue } from '../ports/job-queue.port';
import { cloneJobStream, cloneUpdatesStream, emptyEvents, endingAfterTerminal, publishCloneEvent } from '../pipeline/clone-events';
import { requirePermission } from './access';
import { AuditService } from './audit.service';
import { parseInput, uuidRule } from './validation';

/** The matchmaker, as cloneVm needs it: picks a target when none is named, checks one that is. */
export interface TargetPicker {
  /** The chosen cloud and the explanation of the choice, stored on the job as its placement. */
  pickTarget(principal: Principal, vmId: string): Promise<Placement & { cloudId: string }>;
  /** BAD_USER_INPUT on input.targetCloudId when the cloud fails the matchmaker's filters for this VM. */
  checkTarget(principal: Principal, vmId: string, cloudId: string): Promise<void>;
}

const cloneRule = z.object({
  vmId: uuidRule,
  targetCloudId: uuidRule.nullable().optional(),
  idempotencyKey: z
    .string()
    .min(1, 'must not be empty')
    .max(128, 'must be at most 128 characters')
    .regex(/^[A-Za-z0-9._:-]+$/, 'must be letters, digits, . _ : -')
    .nullable()
    .optional(),
  name: z
    .string()
    .min(1, 'must not be empty')
    .max(63, 'must be at most 63 characters')
    .regex(/^[A-Za-z0-9][A-Za-z0-9.-]*$/, 'must be a host name: letters, digits, . -')
    .nullable()
    .optional(),
});

export class CloneJobService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly bus: EventBus,
    private readonly queue: JobQueue,
    private readonly audit: AuditService,
    private readonly targets: TargetPicker,
  ) {}

  /** Same idempotencyKey, same job: a retried request never starts a second clone. */
  async cloneVm(principal: Principal, rawInput: unknown): Promise<CloneJobEntity> {
    requirePermission(principal, Permission.MANAGE_SCALING);
    const input = parseInput(cloneRule, rawInput, 'input');
    const repo = this.dataSource.getRepository(CloneJobEntity);
    if (input.idempotencyKey) {
      const existing = await repo.findOne({ where: { tenantId: principal.tenantId, idempotencyKey: input.idempotencyKey } });
      if (existing) return this.sameRequestOrConflict(existing, input);
    }
    const vm = await this.dataSource.getRepository(VmEntity).findOne({ where: { id: input.vmId, tenantId: principal.tenantId } });
    if (!vm) throw new BadUserInputError('input.vmId', 'must be the id of one of your VMs');
    // The source's cloud must still be one the caller may use: its own, or one still shared with it.
    const source = await this.dataSource.getRepository(CloudEntity).findOne({ where: { id: vm.cloudId, deregisteredAt: IsNull() } });
    if (vm.retiredAt || !source || (source.tenantId !== principal.tenantId && !source.shared)) {
      throw new BadUserInputError('input.vmId', 'must be a VM in a cloud you can still use (its cloud was deregistered or is no longer shared with you)');
    }
    // An unreachable origin cannot be snapshotted: the clone can only boot from a standby image made before it went down.
    const originDown = source.health === CloudHealth.UNREACHABLE ? source : null;
    let target: CloudEntity;
    let placement: Placement | null = null;
    if (originDown) {
      target = await this.standbyTargetWhileOriginDown(principal, vm, originDown, input.targetCloudId ?? null);
    } else {
      // Without a target the matchmaker picks one, and its explanation (every candidate and why) stays on the job.
      const picked = input.targetCloudId ? null : await this.targets.pickTarget(principal, vm.id);
      placement = picked ? { chosenCloudId: picked.chosenCloudId, chosenCloudName: picked.chosenCloudName, decidedAt: picked.decidedAt, candidates: picked.candidates } : null;
      target = await this.usableTarget(principal, input.targetCloudId ?? picked!.cloudId, 'input.targetCloudId');
      // A named target passes the same filters as a picked one (policies, quota, a flavor to boot with) before any snapshot.
      if (input.targetCloudId) await this.targets.checkTarget(principal, vm.id, target.id);
    }
    const idempotencyKey = input.idempotencyKey ?? crypto.randomUUID();
    try {
      return await this.createJob(principal, { vm, target, idempotencyKey, name: input.name ?? null, purpose: CloneJobPurpose.CLONE, originDown, placement });
    } catch (err) {
      // A concurrent request with the same key won the insert: answer with its job.
      if ((err as { code?: string }).code === '23505' && input.idempotencyKey) {
        const existing = await repo.findOne({ where: { tenantId: principal.tenantId, idempotencyKey } });
        if (existing) return this.sameRequestOrConflict(existing, input);
      }
      throw err;
    }
  }

  /**
   * A standby image of the VM type in `cloudId`, ahead of need: a STANDBY clone job of the type's
   * original (the oldest imported ACTIVE VM) that runs SNAPSHOT -> TRANSFER -> IMPORT and ends DONE
   * keeping the image (STANDBY_IMAGE_TTL_SECONDS). One at a time per type and cloud: while a
   * prepare is in flight that job is returned, and while a fresh standby exists the job that made it.
   * With keepFresh the standby (made now, in flight or already there) is kept fresh by the leader's
   * refresher. `replacing` (the refresher) is a kept-fresh standby near its expiry that does not
   * count as fresh here.
   */
  async prepareStandby(principal: Principal, vmTypeId: string, cloudId: string, options: { keepFresh?: boolean | null; replacing?: string } = {}): Promise<CloneJobEntity> {
    requirePermission(principal, Permission.MANAGE_SCALING);
    parseInput(uuidRule, vmTypeId, 'vmTypeId');
    parseInput(uuidRule, cloudId, 'cloudId');
    const keepFresh = parseInput(z.boolean().nullable().optional(), options.keepFresh, 'keepFresh') ?? false;
    const vmType = await this.dataSource.getRepository(VmTypeEntity).findOne({ where: { id: vmTypeId, tenantId: principal.tenantId } });
    if (!vmType) throw new BadUserInputError('vmTypeId', 'must be the id of one of your VM types');
    const target = await this.usableTarget(principal, cloudId, 'cloudId');
    const vm = await this.originalOf(principal.tenantId, vmType.id);
    if (!vm) throw new BadUserInputError('vmTypeId', `VM type ${vmType.name} has no ACTIVE VM to make a standby image of`);
    await this.targets.checkTarget(principal, vm.id, target.id).catch((err) => {
      // The matchmaker names cloneVm's field; here the cloud is `cloudId`.
      if (err instanceof BadUserInputError) throw new BadUserInputError('cloudId', err.message);
      throw err;
    });
    return this.dataSource.transaction(async (tx) => {
      // Serialises prepares of one type and cloud, so two requests (or ticks) make one standby.
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`standby:${vmType.id}:${target.id}`]);
      const existing = await this.standbyJobOf(tx, principal.tenantId, vmType.id, target.id, options.replacing ?? null);
      if (existing) {
        if (keepFresh) await this.keepFresh(tx, principal, existing);
        return existing;
      }
      const purpose = CloneJobPurpose.STANDBY;
      return this.createJob(principal, { vm, target, idempotencyKey: `standby:${crypto.randomUUID()}`, name: null, purpose, keepFresh, replacing: options.replacing ?? null }, tx);
    });
  }

  /**
   * The target of a clone whose origin cloud is UNREACHABLE (the attacked cloud the standby images
   * exist for): the cloud holding the freshest fresh standby image of the VM's type that passes
   * the matchmaker's filters (health, policies, quota, a flavor to boot with), or the named target
   * if it holds one. No cloud call goes to the origin: the clone boots from the standby, so
   * SNAPSHOT, TRANSFER and IMPORT never run. Without such a standby the clone cannot be made, and
   * the error names the origin and why each standby cloud was passed over.
   */
  private async standbyTargetWhileOriginDown(principal: Principal, vm: VmEntity, origin: CloudEntity, namedTargetId: string | null): Promise<CloudEntity> {
    const down = `the origin cloud ${origin.name} of VM ${vm.name} is unreachable (${origin.healthMessage ?? 'last probe failed'}), so no snapshot can be taken`;
    const fail = (why: string) => new UpstreamUnavailableError(`${down}, and ${why}`, { field: 'input.vmId', cloudId: origin.id, originCloudId: origin.id, retryable: false });
    if (!vm.vmTypeId) throw fail('the VM has no VM type, so no standby image can stand in for a snapshot');
    const rows: { cloud_id: string }[] = await this.dataSource.query(
      `SELECT cloud_id, max(expires_at) AS freshest FROM standby_images
       WHERE tenant_id = $1 AND vm_type_id = $2 AND deleted_at IS NULL AND expires_at > now() AND cloud_id <> $3
       GROUP BY cloud_id ORDER BY freshest DESC`,
      [principal.tenantId, vm.vmTypeId, origin.id],
    );
    const clouds = namedTargetId ? rows.filter((r) => r.cloud_id === namedTargetId) : rows;
    if (clouds.length === 0) {
      throw fail(namedTargetId ? 'the named target cloud holds no fresh standby image of its VM type to boot from' : 'no partner cloud holds a fresh standby image of its VM type to boot from');
    }
    const passedOver: string[] = [];
    for (const { cloud_id: cloudId } of clouds) {
      try {
        const target = await this.usableTarget(principal, cloudId, 'input.targetCloudId');
        await this.targets.checkTarget(principal, vm.id, target.id);
        return target;
      } catch (err) {
        if (!(err instanceof BadUserInputError)) throw err;
        passedOver.push(tenantMessage(err));
      }
    }
    throw fail(`no cloud holding a fresh standby image of its VM type can take the clone: ${passedOver.join('; ')}`);
  }

  /**
   * A prepare of the type into the cloud that is in flight, else the DONE job of a fresh standby
   * there (other than `replacing`); null when neither.
   */
  private async standbyJobOf(tx: EntityManager, tenantId: string, vmTypeId: string, cloudId: string, replacing: string | null): Promise<CloneJobEntity | null> {
    const [row]: { id: string }[] = await tx.query(
      `SELECT j.id FROM clone_jobs j JOIN vms v ON v.id = j.source_vm_id
       WHERE j.tenant_id = $1 AND v.vm_type_id = $2 AND j.target_cloud_id = $3 AND j.purpose = $4 AND j.state <> ALL($5)
       UNION ALL
       SELECT s.created_by_job_id FROM standby_images s
       WHERE s.tenant_id = $1 AND s.vm_type_id = $2 AND s.cloud_id = $3 AND s.deleted_at IS NULL AND s.expires_at > now()
         AND s.id IS DISTINCT FROM $6::uuid
       LIMIT 1`,
      [tenantId, vmTypeId, cloudId, CloneJobPurpose.STANDBY, terminalStates, replacing],
    );
    return row ? tx.findOneByOrFail(CloneJobEntity, { id: row.id }) : null;
  }

  /**
   * keepFresh asked of a standby that is already there or on its way: a job in flight hands the
   * flag to the standby it makes; a fresh standby takes the flag over from any older one.
   */
  private async keepFresh(tx: EntityManager, principal: Principal, job: CloneJobEntity): Promise<void> {
    if (!isTerminal(job.state)) {
      if (job.keepFresh) return;
      await tx.update(CloneJobEntity, { id: job.id }, { keepFresh: true });
      job.keepFresh = true;
    } else {
      const standby = job.standbyImageId ? await tx.findOneBy(StandbyImageEntity, { id: job.standbyImageId }) : null;
      if (!standby || standby.keepFresh) return;
      await tx.query(`UPDATE standby_images SET keep_fresh = (id = $4) WHERE tenant_id = $1 AND vm_type_id = $2 AND cloud_id = $3 AND (keep_fresh OR id = $4)`, [
        standby.tenantId,
        standby.vmTypeId,
        standby.cloudId,
        standby.id,
      ]);
    }
    await this.audit.record(tx, principal, principal.tenantId, 'standbyImage.keepFresh', 'CloneJob', job.id, { standbyImageId: job.standbyImageId, targetCloudId: job.targetCloudId });
  }

  /** The VM a type is cloned from: its oldest imported ACTIVE VM, else its oldest ACTIVE one. */
  private async originalOf(tenantId: string, vmTypeId: string): Promise<VmEntity | null> {
    const vms = await this.dataSource.getRepository(VmEntity).find({ where: { tenantId, vmTypeId, retiredAt: IsNull(), state: 'ACTIVE' }, order: { createdAt: 'ASC' } });
    return vms.find((v) => v.origin === VmOrigin.IMPORTED) ?? vms[0] ?? null;
  }

  /** A cloud the caller may use as a target now: its own or shared, registered, not unreachable. */
  private async usableTarget(principal: Principal, cloudId: string, field: string): Promise<CloudEntity> {
    const target = await this.dataSource.getRepository(CloudEntity).findOne({ where: { id: cloudId, deregisteredAt: IsNull() } });
    if (!target || (target.tenantId !== principal.tenantId && !target.shared)) {
      throw new BadUserInputError(field, 'must be the id of a cloud you can see');
    }
    if (target.health === CloudHealth.UNREACHABLE) {
      throw new BadUserInputError(field, `cloud ${target.name} is unreachable (${target.healthMessage ?? 'last probe failed'})`);
    }
    return target;
  }

  /**
   * Stores the job, its QUEUED event and audit entry, and queues it, in one transaction. A clone
   * into a cloud holding a fresh standby image of the VM's type boots from it (locked FOR SHARE,
   * so the reaper cannot expire it under this insert; it skips a locked standby and never deletes
   * one a live job names).
   */
  private async createJob(
    principal: Principal,
    o: { vm: VmEntity; target: CloudEntity; idempotencyKey: string; name: string | null; purpose: CloneJobPurpose; originDown?: CloudEntity | null; keepFresh?: boolean; replacing?: string | null; placement?: Placement | null },
    outer?: EntityManager,
  ): Promise<CloneJobEntity> {
    const { vm, target } = o;
    const work = async (tx: EntityManager) => {
      const standby = o.purpose === CloneJobPurpose.CLONE && vm.vmTypeId ? await this.freshStandby(tx, principal.tenantId, vm.vmTypeId, target.id) : null;
      if (o.originDown && !standby) {
        // The standby chosen a moment ago expired (or was reaped) since: a full clone would snapshot the unreachable origin.
        throw new UpstreamUnavailableError(`the origin cloud ${o.originDown.name} of VM ${vm.name} is unreachable, and the standby image in cloud ${target.name} expired just now`, {
          field: 'input.vmId',
          cloudId: o.originDown.id,
          originCloudId: o.originDown.id,
          retryable: true,
        });
      }
      const suffix = o.purpose === CloneJobPurpose.STANDBY ? 'standby' : 'clone';
      const job = await tx.save(
        tx.create(CloneJobEntity, {
          tenantId: principal.tenantId,
          idempotencyKey: o.idempotencyKey,
          name: o.name ?? `${vm.name.replace(/[^A-Za-z0-9.-]/g, '-').slice(0, 40)}-${suffix}-${crypto.randomBytes(3).toString('hex')}`,
          purpose: o.purpose,
          sourceVmId: vm.id,
          sourceCloudId: vm.cloudId,
          vmTypeId: vm.vmTypeId ?? null,
          targetCloudId: target.id,
          standbyImageId: standby?.id ?? null,
          keepFresh: o.keepFresh ?? false,
          placement: o.placement ?? null,
          phase: ClonePhase.QUEUED,
          state: CloneJobState.QUEUED,
          phases: [],
          // The clone's VM id, fixed now: templates and its load-balancer tag name it before DONE.
          artefacts: { cloneVmId: crypto.randomUUID(), ...(standby ? { standbyImageId: standby.imageId } : {}) },
          requestedByTokenId: principal.tokenId,
        }),
      );
      await publishCloneEvent(this.bus, tx, job.tenantId, { jobId: job.id, kind: CloneEventKind.PHASE_STARTED, phase: ClonePhase.QUEUED, message: queuedMessage(vm, target, o.purpose, standby, o.originDown ?? null) });
      const action = o.purpose === CloneJobPurpose.STANDBY ? 'cloneJob.prepareStandby' : 'cloneJob.create';
      const standbyDetails = o.purpose === CloneJobPurpose.STANDBY ? { keepFresh: job.keepFresh, replacesStandbyImageId: o.replacing ?? null } : {};
      await this.audit.record(tx, principal, principal.tenantId, action, 'CloneJob', job.id, {
        vmId: vm.id,
        targetCloudId: target.id,
        standbyImageId: standby?.id ?? null,
        ...standbyDetails,
        ...(o.originDown ? { originUnreachable: o.originDown.id } : {}),
      });
      await this.queue.enqueue('clone', tx, job.id);
      return job;
    };
    return outer ? work(outer) : this.dataSource.transaction(work);
  }

  /** The freshest standby image of the type in the cloud, locked against expiry until this transaction ends. */
  private async freshStandby(tx: EntityManager, tenantId: string, vmTypeId: string, cloudId: string): Promise<StandbyImageEntity | null> {
    const [row]: { id: string }[] = await tx.query(
      `SELECT id FROM standby_images
       WHERE tenant_id = $1 AND vm_type_id = $2 AND cloud_id = $3 AND deleted_at IS NULL AND expires_at > now()
       ORDER BY expires_at DESC LIMIT 1 FOR SHARE`,
      [tenantId, vmTypeId, cloudId],
    );
    return row ? tx.findOneByOrFail(StandbyImageEntity, { id: row.id }) : null;
  }

  /** Cancellation takes effect at the runner's next safe point, which then undoes what the job made. */
  async cancel(principal: Principal, id: string): Promise<CloneJobEntity> {
    requirePermission(principal, Permission.MANAGE_SCALING);
    parseInput(uuidRule, id, 'id');
    return this.dataSource.transaction(async (tx) => {
      const job = await tx.findOne(CloneJobEntity, { where: { id, tenantId: principal.tenantId }, lock: { mode: 'pessimistic_write' } });
      if (!job) throw new NotFoundError('CloneJob', id);
      // A job already undoing (a failure, or an earlier cancel) ends as it is ending.
      if (isTerminal(job.state) || job.state === CloneJobState.CANCELLING || job.state === CloneJobState.FAILING) return job;
      job.state = CloneJobState.CANCELLING;
      await tx.save(job);
      await publishCloneEvent(this.bus, tx, job.tenantId, { jobId: job.id, kind: CloneEventKind.PROGRESS, phase: job.phase, message: 'cancellation requested' });
      await this.audit.record(tx, principal, principal.tenantId, 'cloneJob.cancel', 'CloneJob', job.id);
      return job;
    });
  }

  /** Stored events after `afterSeq`, then live ones, of one job of the caller's tenant. */
  async events(principal: Principal, jobId: string, afterSeq: number | null | undefined): Promise<AsyncIterableIterator<BusEvent>> {
    requirePermission(principal, Permission.READ);
    parseInput(uuidRule, jobId, 'jobId');
    const after = parseInput(z.number().int().min(0, 'must not be negative').default(0), afterSeq ?? undefined, 'afterSeq');
    const job = await this.dataSource.getRepository(CloneJobEntity).findOne({ where: { id: jobId, tenantId: principal.tenantId } });
    if (!job) throw new NotFoundError('CloneJob', jobId);
    // A finished job replayed from after its last event has nothing left to say: complete at once.
    if (isTerminal(job.state)) {
      const [row] = await this.dataSource.query(`SELECT last_seq FROM event_streams WHERE stream = $1`, [cloneJobStream(job.id)]);
      if (!row || Number(row.last_seq) <= after) return emptyEvents();
    }
    return endingAfterTerminal(this.bus.subscribeStream(cloneJobStream(job.id), after));
  }

  /** Live events of every job of the caller's tenant. */
  /**
   * Events of every clone job of the caller's tenant, from its clone updates stream: with
   * `afterSeq`, the stored ones after it first, then live ones; without it, live ones from now on.
   */
  async updates(principal: Principal, afterSeq: number | null | undefined): Promise<AsyncIterableIterator<BusEvent>> {
    requirePermission(principal, Permission.READ);
    const stream = cloneUpdatesStream(principal.tenantId);
    if (afterSeq !== null && afterSeq !== undefined) {
      return this.bus.subscribeStream(stream, parseInput(z.number().int().min(0, 'must not be negative'), afterSeq, 'afterSeq'));
    }
    // The stream's current end: anything committed after this read has a larger seq and is delivered.
    const [row] = await this.dataSource.query(`SELECT last_seq FROM event_streams WHERE stream = $1`, [stream]);
    return this.bus.subscribeStream(stream, row ? Number(row.last_seq) : 0);
  }

  /**
   * The same request again gets the same job, while it runs or once it is DONE. A key whose job
   * ended FAILED or CANCELLED is not silently handed back as if the clone were under way: the
   * caller learns the job's fate and that a new attempt needs a new key.
   */
  private sameRequestOrConflict(job: CloneJobEntity, input: z.output<typeof cloneRule>): CloneJobEntity {
    const sameTarget = !input.targetCloudId || input.targetCloudId === job.targetCloudId;
    if (job.sourceVmId !== input.vmId || !sameTarget) {
      throw new ConflictError(`idempotencyKey ${job.idempotencyKey} was already used for a different clone (job ${job.id})`, { field: 'input.idempotencyKey' });
    }
    if (job.state === CloneJobState.FAILED || job.state === CloneJobState.CANCELLED) {
      const why = job.state === CloneJobState.FAILED ? `FAILED (${job.errorCode ?? 'error'}: ${job.errorMessage ?? 'no message'})` : 'CANCELLED';
      throw new ConflictError(`idempotencyKey ${job.idempotencyKey} belongs to job ${job.id}, which ended ${why}; use a new idempotencyKey to try again`, {
        field: 'input.idempotencyKey',
        rule: 'names a job that ended without a clone',
      });
    }
    return job;
  }
}

/** The QUEUED event says what the job will do, and when it boots from a standby image, which phases it skips. */
function queuedMessage(vm: VmEntity, target: CloudEntity, purpose: CloneJobPurpose, standby: StandbyImageEntity | null, originDown: CloudEntity | null): string {
  if (purpose === CloneJobPurpose.STANDBY) return `standby image of ${vm.name} for cloud ${target.name} queued: SNAPSHOT, TRANSFER, IMPORT, then kept`;
  const base = `clone of ${vm.name} into ${target.name} queued${originDown ? ` (its origin cloud ${originDown.name} is unreachable: ${target.name} holds the freshest standby image)` : ''}`;
  if (!standby) return base;
  return `${base}; boots from standby image ${standby.imageId} (prepared by job ${standby.createdByJobId}, fresh until ${standby.expiresAt.toISOString()}): SNAPSHOT, TRANSFER and IMPORT skipped`;
}
