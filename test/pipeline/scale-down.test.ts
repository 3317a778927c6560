/**
 * Scale-down jobs through the API against sandbox clouds: a clone is removed (server and
 * floating IP deleted, VM retired, events that complete), the bounds refuse the last instance
 * and going below the VM type's minimum, and the same request twice is one removal.
 */
import { Sandbox } from '../../sandbox';
import { OpenStackCloudApiFactory } from '../../src/adapters/openstack/openstack-cloud-api.factory';
import { CloudApi } from '../../src/ports/cloud-api.port';
import { startTestBroker, TestBroker } from '../support/broker';
import { CloneFixture, setUpClone, waitForJobState } from '../support/clone-fixture';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlError, gqlOk, untilComplete, wsClient } from '../support/graphql';
import { labCloudApiFactory, sandboxApi, startSandboxClouds } from '../support/sandbox';
import { waitFor } from '../support/wait';

const SCALE_DOWN = `mutation($v: ID!) { scaleDownVm(vmId: $v) { id state phase vm { id } } }`;
const JOB = `query($id: ID!) { scaleDownJob(id: $id) { id state phase phases { phase durationMs } error { code message } vm { id state } } }`;
const EVENTS = `subscription($id: ID!) { scaleDownJobEvents(jobId: $id, afterSeq: 0) { seq kind phase message } }`;

describe('scale-down jobs', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let sandbox: Sandbox;
  let factory: OpenStackCloudApiFactory;
  let dst: CloudApi;
  let fx: CloneFixture;

  const cloneOf = async (vmId: string) => {
    const { cloneVm } = await gqlOk(broker.url, fx.tenant.token, `mutation($i: CloneVmInput!) { cloneVm(input: $i) { id } }`, { i: { vmId, targetCloudId: fx.targetCloudId } });
    const job = await waitForJobState(broker.url, fx.tenant.token, cloneVm.id, ['DONE', 'FAILED', 'CANCELLED']);
    expect(job.state).toBe('DONE');
    return job.resultVm as { id: string; serverId: string; addresses: { address: string; kind: string }[] };
  };
  const endOf = async (jobId: string) => {
    let job: Record<string, any> = {};
    await waitFor(async () => {
      job = (await gqlOk(broker.url, fx.tenant.token, JOB, { id: jobId })).scaleDownJob;
      return ['DONE', 'FAILED', 'CANCELLED'].includes(job.state);
    }, `scale-down job ${jobId} to end`);
    return job;
  };

  beforeAll(async () => {
    sandbox = await startSandboxClouds('sd-src', 'sd-dst');
    factory = labCloudApiFactory();
    dst = sandboxApi(factory, sandbox.cloud('sd-dst'));
    db = await createTestDatabase();
    broker = await startTestBroker(db.url);
    fx = await setUpClone(broker.url, broker.adminToken, sandbox, factory, 'sd-src', 'sd-dst');
  });

  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
    await factory?.close();
    await sandbox?.stop();
  });

  it('removes a clone: its server and floating IP are deleted, the VM is retired, the events complete', async () => {
    const { vmId } = await fx.importNewVm();
    const clone = await cloneOf(vmId);
    const floating = clone.addresses.find((a) => a.kind === 'floating')!.address;
    const client = wsClient(broker.url, fx.tenant.token);
    try {
      const { scaleDownVm } = await gqlOk(broker.url, fx.tenant.token, SCALE_DOWN, { v: clone.id });
      expect(scaleDownVm).toMatchObject({ vm: { id: clone.id } });
      const events = await untilComplete<{ scaleDownJobEvents: { seq: number; kind: string; phase: string } }>(client, EVENTS, { id: scaleDownVm.id });
      expect(events.map((e) => e.scaleDownJobEvents.seq)).toEqual(events.map((_, i) => i + 1));
      expect(events.at(-1)!.scaleDownJobEvents).toMatchObject({ kind: 'DONE', phase: 'DONE' });
      const job = await endOf(scaleDownVm.id);
      expect(job).toMatchObject({ state: 'DONE', phase: 'DONE', error: null, vm: { id: clone.id, state: 'DELETED' } });
      expect(job.phases.map((p: { phase: string }) => p.phase)).toEqual(['DELETE']);
    } finally {
      await client.dispose();
    }
    expect(await dst.getServer(clone.serverId)).toBeNull();
    expect((await dst.listFloatingIps()).map((f) => f.address)).not.toContain(floating);
    const { vms } = await gqlOk(broker.url, fx.tenant.token, `query($t: ID) { vms(vmTypeId: $t) { id } }`, { t: fx.vmTypeId });
    expect(vms.map((v: { id: string }) => v.id)).not.toContain(clone.id);
    expect(vms.map((v: { id: string }) => v.id)).toContain(vmId);
  });

  it('never removes the last instance of a VM type, nor goes below its minimum', async () => {
    // A VM type of its own with one instance.
    const { createVmType } = await gqlOk(broker.url, fx.tenant.token, `mutation { createVmType(input: { name: "lonely", minInstances: 0, maxInstances: 3 }) { id } }`);
    const { vmId } = await fx.importNewVm(undefined, undefined, createVmType.id);
    const lone = await gqlError(broker.url, fx.tenant.token, SCALE_DOWN, { v: vmId });
    expect(lone.extensions).toMatchObject({ code: 'CONFLICT', field: 'vmId' });
    expect(lone.message).toContain('last instance');

    // With minInstances raised to the number of live instances, one removal is one too many.
    await fx.importNewVm();
    const { vms } = await gqlOk(broker.url, fx.tenant.token, `query($t: ID) { vms(vmTypeId: $t) { id } }`, { t: fx.vmTypeId });
    await gqlOk(broker.url, fx.tenant.token, `mutation($id: ID!, $n: Int!) { updateVmType(id: $id, input: { name: "opensips", minInstances: $n, maxInstances: 50 }) { id } }`, { id: fx.vmTypeId, n: vms.length });
    const below = await gqlError(broker.url, fx.tenant.token, SCALE_DOWN, { v: vms[0].id });
    expect(below.extensions).toMatchObject({ code: 'CONFLICT', field: 'vmId' });
    expect(below.message).toContain(`below its minimum of ${vms.length}`);
    await gqlOk(broker.url, fx.tenant.token, `mutation($id: ID!) { updateVmType(id: $id, input: { name: "opensips", minInstances: 1, maxInstances: 5 }) { id } }`, { id: fx.vmTypeId });
  });

  it('answers the same removal twice with one job', async () => {
    const { vmId } = await fx.importNewVm();
    const clone = await cloneOf(vmId);
    await sandbox.cloud('sd-dst').control.injectFault({ operation: 'nova.server.delete', mode: 'hang' });
    try {
      const [a, b] = await Promise.all([gqlOk(broker.url, fx.tenant.token, SCALE_DOWN, { v: clone.id }), gqlOk(broker.url, fx.tenant.token, SCALE_DOWN, { v: clone.id })]);
      expect(a.scaleDownVm.id).toBe(b.scaleDownVm.id);
      const again = await gqlOk(broker.url, fx.tenant.token, SCALE_DOWN, { v: clone.id });
      expect(again.scaleDownVm.id).toBe(a.scaleDownVm.id);
      const { scaleDownJobs } = await gqlOk(broker.url, fx.tenant.token, `query($v: ID) { scaleDownJobs(vmId: $v) { id } }`, { v: clone.id });
      expect(scaleDownJobs).toHaveLength(1);
    } finally {
      await sandbox.cloud('sd-dst').control.clearFaults();
    }
  });
});
