/**
 * A broker, two sandbox clouds registered through the API, a VM type and a running server
 * imported into it: the starting point of every clone test.
 */
import crypto from 'node:crypto';
import { Sandbox, SandboxCloud } from '../../sandbox';
import { OpenStackCloudApiFactory } from '../../src/adapters/openstack/openstack-cloud-api.factory';
import { Server } from '../../src/ports/cloud-api.port';
import { gqlOk } from './graphql';
import { bootSandboxServer, registerCloudInput } from './sandbox';
import { createTenantWithToken, TenantToken } from './tenants';

export async function registerSandboxCloud(url: string, token: string, cloud: SandboxCloud, defaults: Record<string, string | null> = {}): Promise<string> {
  const { registerCloud } = await gqlOk(url, token, `mutation($input: RegisterCloudInput!) { registerCloud(input: $input) { id } }`, {
    input: registerCloudInput(cloud, cloud.name, { defaults: { flavor: 'm1.tiny', ...defaults } }),
  });
  return registerCloud.id;
}

export interface CloneFixture {
  tenant: TenantToken;
  sourceCloudId: string;
  targetCloudId: string;
  vmTypeId: string;
  /** Imports a freshly booted server of the source cloud (into the fixture's VM type, or `vmTypeId`); returns the broker's VM id. */
  importNewVm(name?: string, imageId?: string, vmTypeId?: string): Promise<{ vmId: string; server: Server }>;
}

export async function setUpClone(url: string, adminToken: string, sandbox: Sandbox, factory: OpenStackCloudApiFactory, source: string, target: string): Promise<CloneFixture> {
  const tenant = await createTenantWithToken(url, adminToken, `cloner-${crypto.randomBytes(3).toString('hex')}`);
  const src = sandbox.cloud(source);
  const dst = sandbox.cloud(target);
  const dstInfo = await dst.control.info();
  const sourceCloudId = await registerSandboxCloud(url, tenant.token, src);
  const targetCloudId = await registerSandboxCloud(url, tenant.token, dst, { network: dstInfo.networks.private.name, floatingNetwork: dstInfo.networks.public.name });
  const { createVmType } = await gqlOk(url, tenant.token, `mutation { createVmType(input: { name: "opensips", minInstances: 1, maxInstances: 5 }) { id } }`);
  return {
    tenant,
    sourceCloudId,
    targetCloudId,
    vmTypeId: createVmType.id,
    async importNewVm(name = `sip-${crypto.randomBytes(3).toString('hex')}`, imageId?: string, vmTypeId: string = createVmType.id) {
      const server = await bootSandboxServer(src, name, imageId, factory);
      const { importVm } = await gqlOk(url, tenant.token, `mutation($input: ImportVmInput!) { importVm(input: $input) { id } }`, {
        input: { cloudId: sourceCloudId, serverId: server.id, vmTypeId },
      });
      return { vmId: importVm.id, server };
    },
  };
}

export const CLONE_JOB_FIELDS = `id name phase state bytesTotal bytesTransferred idempotencyKey
  phases { phase startedAt finishedAt durationMs } error { code message }
  resultVm { id name serverId addresses { address kind } cloud { id } } sourceVm { id } targetCloud { id } createdAt finishedAt`;

/** Polls cloneJob until it reaches one of `states` (the API is what a client would poll). */
export async function waitForJobState(url: string, token: string, jobId: string, states: string[], timeoutMs = 60_000): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { cloneJob } = await gqlOk(url, token, `query($id: ID!) { cloneJob(id: $id) { ${CLONE_JOB_FIELDS} } }`, { id: jobId });
    if (states.includes(cloneJob.state)) return cloneJob;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${cloneJob.state}/${cloneJob.phase} after ${timeoutMs} ms: ${JSON.stringify(cloneJob.error)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function waitForJobPhase(url: string, token: string, jobId: string, phase: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { cloneJob } = await gqlOk(url, token, `query($id: ID!) { cloneJob(id: $id) { phase state } }`, { id: jobId });
    if (cloneJob.phase === phase) return;
    if (Date.now() > deadline) throw new Error(`job ${jobId} never reached ${phase} (at ${cloneJob.phase}/${cloneJob.state})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
