/**
 * Rows that the API cannot create yet without a cloud (VMs, clone jobs), inserted directly for
 * read-side tests. Everything else in tests goes through the API.
 */
import crypto from 'node:crypto';
import { DataSource } from 'typeorm';
import { CloneJobEntity, CloudEntity, VmEntity } from '../../src/domain/entities';
import { ClonePhase, CloneJobState } from '../../src/domain/clone-phase';
import { CloudHealth, CredentialKind, VmOrigin } from '../../src/domain/enums';

export async function insertCloud(ds: DataSource, tenantId: string, name = `cloud-${crypto.randomBytes(3).toString('hex')}`, shared = false): Promise<CloudEntity> {
  return ds.getRepository(CloudEntity).save({
    tenantId,
    name,
    authUrl: 'http://127.0.0.1:1/v3',
    region: 'RegionOne',
    credentialKind: CredentialKind.PASSWORD,
    credentialsCiphertext: Buffer.from('not-used'),
    labels: [],
    bandwidthMbps: 1000,
    costPerHour: 0.1,
    diskFormats: ['qcow2'],
    defaults: { network: null, floatingNetwork: null, flavor: null, availabilityZone: null },
    shared,
    catalog: [],
    health: CloudHealth.UNKNOWN,
  });
}

export async function insertVm(ds: DataSource, tenantId: string, cloudId: string, vmTypeId: string | null = null): Promise<VmEntity> {
  return ds.getRepository(VmEntity).save({
    tenantId,
    cloudId,
    vmTypeId,
    serverId: crypto.randomUUID(),
    name: `vm-${crypto.randomBytes(3).toString('hex')}`,
    addresses: [{ network: 'private', address: '127.0.1.10', kind: 'fixed', version: 4 }],
    state: 'ACTIVE',
    origin: VmOrigin.IMPORTED,
  });
}

export async function insertCloneJob(ds: DataSource, vm: VmEntity, targetCloudId: string, state = CloneJobState.DONE, createdAt = new Date()): Promise<CloneJobEntity> {
  const job = await ds.getRepository(CloneJobEntity).save({
    tenantId: vm.tenantId,
    idempotencyKey: crypto.randomUUID(),
    name: `${vm.name}-clone`,
    sourceVmId: vm.id,
    sourceCloudId: vm.cloudId,
    vmTypeId: vm.vmTypeId,
    targetCloudId,
    phase: state === CloneJobState.DONE ? ClonePhase.DONE : ClonePhase.QUEUED,
    state,
    phases: [],
  });
  await ds.query('UPDATE clone_jobs SET created_at = $2 WHERE id = $1', [job.id, createdAt]);
  return { ...job, createdAt };
}
