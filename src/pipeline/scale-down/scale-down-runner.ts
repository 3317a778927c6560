/**
 * Runs scale-down jobs on the shared job machinery (saga-runner.ts): opens the VM, its cloud and
 * VM type, publishes on the job's scale-down event stream, and when every step is done retires
 * the VM row (it stays for history).
 */
import { Logger } from 'pino';
import { DataSource, EntityManager } from 'typeorm';
import { CloneEventKind, CloneJobState } from '../../domain/clone-phase';
import { CloudEntity, ScaleDownJobEntity, VmEntity, VmTypeEntity } from '../../domain/entities';
import { ScaleDownPhase } from '../../domain/scale-down';
import { vmTemplateValues } from '../../domain/template-values';
import { CloudApiFactory } from '../../ports/cloud-api.port';
import { EventBus } from '../../ports/event-bus.port';
import { JobQueue } from '../../ports/job-queue.port';
import { CloudService } from '../../services/cloud.service';
import { JobStore } from '../job.store';
import { fenced, LeaseFence } from '../lease-fence';
import { JobUnrunnableError, SagaEvent, SagaRunner, SagaRunnerOptions } from '../saga-runner';
import { publishScaleDownEvent } from './scale-down-events';
import { ScaleDownArtefacts, ScaleDownContext, ScaleDownStep } from './scale-down-step';

export interface ScaleDownRunnerDeps {
  dataSource: DataSource;
  store: JobStore<ScaleDownJobEntity>;
  bus: EventBus;
  queue: JobQueue;
  cloudApis: CloudApiFactory;
  clouds: CloudService;
  steps: readonly ScaleDownStep[];
  logger: Logger;
}

export class ScaleDownRunner extends SagaRunner<ScaleDownJobEntity, ScaleDownContext> {
  constructor(
    private readonly sd: ScaleDownRunnerDeps,
    options: SagaRunnerOptions,
  ) {
    super({ kind: 'scale-down', store: sd.store, queue: sd.queue, steps: sd.steps, logger: sd.logger }, options);
  }

  protected async open(job: ScaleDownJobEntity, fence: LeaseFence, signal: AbortSignal): Promise<ScaleDownContext> {
    const { dataSource, store } = this.sd;
    const vm = await dataSource.getRepository(VmEntity).findOneBy({ id: job.vmId });
    if (!vm) throw new JobUnrunnableError(`VM ${job.vmId} no longer exists`);
    const cloud = await dataSource.getRepository(CloudEntity).findOneBy({ id: vm.cloudId });
    if (!cloud || cloud.deregisteredAt) throw new JobUnrunnableError(`the VM's cloud ${vm.cloudId} was deregistered`);
    const vmType = vm.vmTypeId ? await dataSource.getRepository(VmTypeEntity).findOneBy({ id: vm.vmTypeId }) : null;
    const artefacts = job.artefacts as ScaleDownArtefacts;
    const sourceVm = vm.sourceVmId ? await dataSource.getRepository(VmEntity).findOneBy({ id: vm.sourceVmId }) : null;
    const values = vmTemplateValues({ vm, cloudName: cloud.name, vmTypeName: vmType?.name ?? '', sourceVm, jobId: vm.cloneJobId });
    return {
      job,
      artefacts,
      vm,
      cloud,
      api: fenced(this.sd.cloudApis.forConnection(this.sd.clouds.connectionOf(cloud)), fence),
      vmType,
      values,
      signal,
      log: this.sd.logger.child({ jobId: job.id, vmId: vm.id, cloudId: cloud.id }),
      checkpoint: async (patch) => {
        Object.assign(artefacts, patch);
        await store.transaction((tx) => store.write(tx, job.id, { artefacts: { ...artefacts } }));
      },
      drainReading: async (value, observedAt, message) => {
        Object.assign(artefacts, { drainValue: value, drainObservedAt: observedAt });
        await store.transaction(async (tx) => {
          await store.write(tx, job.id, { artefacts: { ...artefacts } });
          await publishScaleDownEvent(this.sd.bus, tx, job.tenantId, { jobId: job.id, vmId: job.vmId, kind: CloneEventKind.PROGRESS, phase: ScaleDownPhase.DRAIN, drainValue: value, message });
        });
      },
    };
  }

  protected async publish(tx: EntityManager, job: ScaleDownJobEntity, event: SagaEvent & Record<string, unknown>): Promise<void> {
    await publishScaleDownEvent(this.sd.bus, tx, job.tenantId, { jobId: job.id, vmId: job.vmId, kind: event.kind, phase: event.phase as ScaleDownPhase, message: event.message ?? null });
  }

  /** DONE, and the VM retired (its row stays for history; it no longer counts as an instance). */
  protected async finish(ctx: ScaleDownContext): Promise<boolean> {
    const { job, vm } = ctx;
    const { store } = this.sd;
    const done = await store.transaction(async (tx) => {
      if (!(await store.write(tx, job.id, { state: CloneJobState.DONE, phase: ScaleDownPhase.DONE, finishedAt: 'now' }, [CloneJobState.RUNNING]))) return false;
      await tx.query(`UPDATE vms SET retired_at = now(), state = 'DELETED', updated_at = now() WHERE id = $1`, [vm.id]);
      const total = Date.now() - job.createdAt.getTime();
      await publishScaleDownEvent(this.sd.bus, tx, job.tenantId, {
        jobId: job.id,
        vmId: vm.id,
        kind: CloneEventKind.DONE,
        phase: ScaleDownPhase.DONE,
        message: `VM ${vm.name} removed in ${(total / 1000).toFixed(1)} s`,
      });
      return true;
    });
    if (done) ctx.log.info('scale-down job done');
    return done;
  }
}
