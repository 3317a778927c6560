/**
 * Opens what a clone job works on: its source VM, both clouds (with their decrypted
 * connections) and its VM type. The cloud APIs it hands out are fenced by the job's lease.
 */
import { DataSource } from 'typeorm';
import { CloneJobState } from '../domain/clone-phase';
import { CloneJobEntity, CloudEntity, VmEntity, VmTypeEntity } from '../domain/entities';
import { CloudApi, CloudApiFactory } from '../ports/cloud-api.port';
import { CloudService } from '../services/cloud.service';
import { fenced, LeaseFence } from './lease-fence';
import { JobUnrunnableError } from './saga-runner';

export interface OpenedJob {
  source: { cloud: CloudEntity; api: CloudApi; vm: VmEntity };
  target: { cloud: CloudEntity; api: CloudApi };
  vmType: VmTypeEntity | null;
}


export class CloneContextFactory {
  constructor(
    private readonly dataSource: DataSource,
    private readonly cloudApis: CloudApiFactory,
    private readonly clouds: CloudService,
  ) {}

  async open(job: CloneJobEntity, fence: LeaseFence): Promise<OpenedJob> {
    const vm = await this.dataSource.getRepository(VmEntity).findOneBy({ id: job.sourceVmId });
    if (!vm) throw new JobUnrunnableError(`source VM ${job.sourceVmId} no longer exists`);
    const sourceCloud = await this.cloud(job, job.sourceCloudId, 'source');
    const targetCloud = await this.cloud(job, job.targetCloudId, 'target');
    const vmType = vm.vmTypeId ? await this.dataSource.getRepository(VmTypeEntity).findOneBy({ id: vm.vmTypeId }) : null;
    return {
      source: { cloud: sourceCloud, api: this.api(sourceCloud, fence), vm },
      target: { cloud: targetCloud, api: this.api(targetCloud, fence) },
      vmType,
    };
  }

  /**
   * A cloud the job's tenant may still use: its own, or one still shared with it. A job that is
   * undoing (cancelled because the owner withdrew the cloud, say) may still open it to delete what
   * it made there, as long as its credentials are kept: they are kept until such jobs end.
   */
  private async cloud(job: CloneJobEntity, id: string, role: string): Promise<CloudEntity> {
    const cloud = await this.dataSource.getRepository(CloudEntity).findOneBy({ id });
    if (!cloud) throw new JobUnrunnableError(`the ${role} cloud ${id} no longer exists`);
    const undoing = job.state === CloneJobState.CANCELLING || job.state === CloneJobState.FAILING;
    if (cloud.deregisteredAt && !(undoing && cloud.credentialsCiphertext.length > 0)) {
      throw new JobUnrunnableError(`the ${role} cloud ${cloud.name} was deregistered and its credentials wiped`);
    }
    if (cloud.tenantId !== job.tenantId && !cloud.shared && !undoing) throw new JobUnrunnableError(`the ${role} cloud ${cloud.name} is no longer shared with the job's tenant`);
    return cloud;
  }

  /** A job has ended: credentials a deregistered cloud kept only for jobs to undo are wiped once none needs them. */
  async ended(): Promise<void> {
    await this.clouds.wipeReleasedCredentials();
  }

  private api(cloud: CloudEntity, fence: LeaseFence): CloudApi {
    return fenced(this.cloudApis.forConnection(this.clouds.connectionOf(cloud)), fence);
  }
}
