/**
 * Tenant boundaries inside a shared cloud, through the API against sandbox clouds: a guest's
 * clone boots with what the owner offers guests (its defaults, or what it allow-lists), never
 * with a flavor or network the guest's VM type names; the owner is not told a guest's ids; and a
 * guest's clone never adopts a VM row of the owner's; and the owner can always withdraw its cloud
 * (deregister it, stop sharing it): guests' clones that use it are cancelled and undone.
 */
import { OperationName, Sandbox } from '../../sandbox';
import { OpenStackCloudApiFactory } from '../../src/adapters/openstack/openstack-cloud-api.factory';
import { CloudApi } from '../../src/ports/cloud-api.port';
import { startTestBroker, TestBroker } from '../support/broker';
import { registerSandboxCloud, waitForJobState } from '../support/clone-fixture';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlError, gqlOk } from '../support/graphql';
import { bootSandboxServer, labCloudApiFactory, registerCloudInput, sandboxApi, startSandboxClouds } from '../support/sandbox';
import { addToken, createTenantWithToken, TenantToken } from '../support/tenants';
import { waitFor } from '../support/wait';

describe('tenant boundaries in a shared cloud', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let sandbox: Sandbox;
  let factory: OpenStackCloudApiFactory;
  let shared: CloudApi;
  let owner: TenantToken;
  let guest: TenantToken;
  let sharedCloudId: string;
  let guestHomeId: string;
  let vmTypeId: string;

  const clone = async (vmId: string) => {
    const { cloneVm } = await gqlOk(broker.url, guest.token, `mutation($i: CloneVmInput!) { cloneVm(input: $i) { id } }`, { i: { vmId, targetCloudId: sharedCloudId } });
    const job = await waitForJobState(broker.url, guest.token, cloneVm.id, ['DONE', 'FAILED', 'CANCELLED']);
    expect(job.error).toBeNull();
    return job;
  };
  const importVm = async () => {
    const server = await bootSandboxServer(sandbox.cloud('tb-guest'), `sip-${Math.random().toString(36).slice(2, 8)}`, undefined, factory);
    const { importVm: vm } = await gqlOk(broker.url, guest.token, `mutation($i: ImportVmInput!) { importVm(input: $i) { id } }`, { i: { cloudId: guestHomeId, serverId: server.id, vmTypeId } });
    return vm.id as string;
  };
  const portsOf = async (serverId: string) => (await shared.listPorts(serverId)).map((p) => p.networkId);

  beforeAll(async () => {
    sandbox = await startSandboxClouds('tb-owner', 'tb-guest');
    factory = labCloudApiFactory();
    shared = sandboxApi(factory, sandbox.cloud('tb-owner'));
    db = await createTestDatabase();
    // One clone at a time: a second job waits QUEUED while the first one is held.
    broker = await startTestBroker(db.url, { CLONE_CONCURRENCY: '1' });
    owner = await createTenantWithToken(broker.url, broker.adminToken, 'tb-owner', 'PARTNER');
    guest = await createTenantWithToken(broker.url, broker.adminToken, 'tb-guest');
    // The owner offers m1.small on its private network to guests, with floating IPs from public.
    const { registerCloud } = await gqlOk(broker.url, owner.token, `mutation($input: RegisterCloudInput!) { registerCloud(input: $input) { id } }`, {
      input: registerCloudInput(sandbox.cloud('tb-owner'), 'offered', { shared: true, defaults: { flavor: 'm1.small', network: 'private', floatingNetwork: 'public' } }),
    });
    sharedCloudId = registerCloud.id;
    guestHomeId = await registerSandboxCloud(broker.url, guest.token, sandbox.cloud('tb-guest'));
    // The guest's VM type asks for a big flavor and the cloud's external network.
    const { createVmType } = await gqlOk(broker.url, guest.token, `mutation { createVmType(input: { name: "greedy", minInstances: 1, maxInstances: 9, flavorHint: "m1.large", networkHint: "public" }) { id } }`);
    vmTypeId = createVmType.id;
  });

  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
    await factory?.close();
    await sandbox?.stop();
  });

  it("boots a guest's clone with the owner's defaults, not the flavor and network its VM type names", async () => {
    const job = await clone(await importVm());
    const server = (await shared.getServer(job.resultVm.serverId))!;
    const flavors = await shared.listFlavors();
    expect(flavors.find((f) => f.id === server.flavorId)?.name).toBe('m1.small');
    const networks = await shared.listNetworks();
    expect(await portsOf(server.id)).toEqual([networks.find((n) => n.name === 'private')!.id]);
  });

  it('honours a hint the owner put on the guest allow-list, and only that one', async () => {
    await gqlOk(broker.url, owner.token, `mutation($id: ID!) { updateCloud(id: $id, input: { guestFlavors: ["m1.large"] }) { id } }`, { id: sharedCloudId });
    const job = await clone(await importVm());
    const server = (await shared.getServer(job.resultVm.serverId))!;
    expect((await shared.listFlavors()).find((f) => f.id === server.flavorId)?.name).toBe('m1.large');
    // The network hint is still not allow-listed.
    expect(await portsOf(server.id)).toEqual([(await shared.listNetworks()).find((n) => n.name === 'private')!.id]);
  });

  it("does not tell the owner a guest's VM id when it imports the guest's clone server", async () => {
    const job = await clone(await importVm());
    // Importing takes an operator of the owner's tenant (a PARTNER token only manages clouds).
    const ownerOperator = await addToken(broker.url, broker.adminToken, owner.tenantId, 'OPERATOR');
    const typeId = (await gqlOk(broker.url, ownerOperator, `mutation { createVmType(input: { name: "mine", minInstances: 0, maxInstances: 1 }) { id } }`)).createVmType.id;
    const err = await gqlError(broker.url, ownerOperator, `mutation($i: ImportVmInput!) { importVm(input: $i) { id } }`, { i: { cloudId: sharedCloudId, serverId: job.resultVm.serverId, vmTypeId: typeId } });
    expect(err.extensions).toMatchObject({ code: 'CONFLICT', field: 'input.serverId' });
    expect(err.message).toBe(`server ${job.resultVm.serverId} is already known to the broker under another tenant`);
    expect(err.message).not.toContain(job.resultVm.id);
  });

  it("fails a guest's clone whose server the owner imported before it finished: the owner's row stays as it is and the job's work is undone", async () => {
    const guestCloud = sandbox.cloud('tb-guest');
    const vmId = await importVm();
    await guestCloud.control.resetCalls();
    // Finishing a cross-cloud clone first deletes the source snapshot: the job is held there, every step done.
    await guestCloud.control.injectFault({ operation: 'glance.image.delete', mode: 'hang' });
    let jobId: string;
    let ownerVmId: string;
    try {
      jobId = (await gqlOk(broker.url, guest.token, `mutation($i: CloneVmInput!) { cloneVm(input: $i) { id } }`, { i: { vmId, targetCloudId: sharedCloudId } })).cloneVm.id;
      await waitFor(async () => ((await guestCloud.control.calls())['glance.image.delete'] ?? 0) >= 1, 'the job to finish');
      const [server] = (await shared.listServers()).filter((s) => s.metadata.intercloud_job === jobId);
      // Meanwhile the owner imports the server it sees in its cloud.
      const ownerOperator = await addToken(broker.url, broker.adminToken, owner.tenantId, 'OPERATOR');
      const typeId = (await gqlOk(broker.url, ownerOperator, `mutation { createVmType(input: { name: "adopter", minInstances: 0, maxInstances: 1 }) { id } }`)).createVmType.id;
      ownerVmId = (await gqlOk(broker.url, ownerOperator, `mutation($i: ImportVmInput!) { importVm(input: $i) { id } }`, { i: { cloudId: sharedCloudId, serverId: server.id, vmTypeId: typeId } })).importVm.id;
    } finally {
      await guestCloud.control.clearFaults();
    }
    const ownerRow = async () => (await broker.dataSource.query(`SELECT * FROM vms WHERE id = $1`, [ownerVmId]))[0];
    const before = await ownerRow();

    const job = await waitForJobState(broker.url, guest.token, jobId, ['DONE', 'FAILED', 'CANCELLED']);
    expect(job.state).toBe('FAILED');
    expect(job.error.code).toBe('SERVER_REGISTERED_ELSEWHERE');
    expect(job.error.message).not.toContain(ownerVmId);
    expect(job.error.message).not.toContain(owner.tenantId);
    expect(job.resultVm).toBeNull();
    // Failed at once, not handed out again as an error outside its steps.
    expect((await broker.dataSource.query(`SELECT runner_failures FROM clone_jobs WHERE id = $1`, [jobId]))[0].runner_failures).toBe(0);
    // The owner's row is exactly as it was; the guest got no row for the server.
    expect(await ownerRow()).toEqual(before);
    expect(before.tenant_id).toBe(owner.tenantId);
    expect(await broker.dataSource.query(`SELECT id FROM vms WHERE clone_job_id = $1 OR (server_id = $2 AND tenant_id = $3)`, [jobId, before.server_id, guest.tenantId])).toEqual([]);
    // What the job made is gone from both clouds.
    expect((await shared.listServers()).filter((s) => s.metadata.intercloud_job === jobId)).toEqual([]);
    expect(await shared.listImages({ properties: { intercloud_job: jobId } })).toEqual([]);
    expect(await sandboxApi(factory, guestCloud).listImages({ properties: { intercloud_job: jobId } })).toEqual([]);
  });

  describe('when the owner withdraws a shared cloud', () => {
    let ownerOperator: string;
    let withdrawnId: string;
    const ownerCloud = () => sandbox.cloud('tb-owner');
    const calls = async (op: OperationName) => (await ownerCloud().control.calls())[op] ?? 0;
    const startClone = async (token: string, vmId: string, targetCloudId: string): Promise<string> =>
      (await gqlOk(broker.url, token, `mutation($i: CloneVmInput!) { cloneVm(input: $i) { id } }`, { i: { vmId, targetCloudId } })).cloneVm.id;
    const jobState = async (jobId: string) => (await broker.dataSource.query(`SELECT state FROM clone_jobs WHERE id = $1`, [jobId]))[0].state as string;
    const credentialBytes = async (cloudId: string) =>
      (await broker.dataSource.query(`SELECT octet_length(credentials_ciphertext) AS n FROM clouds WHERE id = $1`, [cloudId]))[0].n as number;
    /** Nothing tagged with the job is left in either cloud. */
    const expectNothingLeft = async (jobId: string) => {
      expect((await shared.listServers()).filter((s) => s.metadata.intercloud_job === jobId)).toEqual([]);
      expect(await shared.listImages({ properties: { intercloud_job: jobId } })).toEqual([]);
      expect(await sandboxApi(factory, sandbox.cloud('tb-guest')).listImages({ properties: { intercloud_job: jobId } })).toEqual([]);
    };
    const end = (token: string, jobId: string) => waitForJobState(broker.url, token, jobId, ['DONE', 'FAILED', 'CANCELLED']);

    beforeAll(async () => {
      ownerOperator = await addToken(broker.url, broker.adminToken, owner.tenantId, 'OPERATOR');
    });

    beforeEach(async () => {
      // The owner's cloud once more, shared under another name: each test withdraws it.
      const { registerCloud } = await gqlOk(broker.url, owner.token, `mutation($input: RegisterCloudInput!) { registerCloud(input: $input) { id } }`, {
        input: registerCloudInput(ownerCloud(), `withdrawn-${Math.random().toString(36).slice(2, 8)}`, {
          shared: true,
          defaults: { flavor: 'm1.small', network: 'private', floatingNetwork: 'public' },
        }),
      });
      withdrawnId = registerCloud.id;
      for (const c of sandbox.clouds) await c.control.resetCalls();
    });

    afterEach(async () => {
      for (const c of sandbox.clouds) await c.control.clearFaults();
    });

    it("deregistering cancels a guest's clone in progress, which undoes what it made there; the credentials are wiped once it has", async () => {
      const vmId = await importVm();
      // BOOT lists flavors before it creates the server: the guest's job is held there, its image already in the owner's cloud.
      await ownerCloud().control.injectFault({ operation: 'nova.flavor.list', mode: 'hang' });
      const jobId = await startClone(guest.token, vmId, withdrawnId);
      const phase = async () => (await broker.dataSource.query(`SELECT phase FROM clone_jobs WHERE id = $1`, [jobId]))[0].phase as string;
      await waitFor(async () => (await phase()) === 'BOOT' && (await calls('nova.flavor.list')) >= 1, 'the guest job to reach BOOT');
      expect(await shared.listImages({ properties: { intercloud_job: jobId } })).toHaveLength(1);

      const { deregisterCloud } = await gqlOk(broker.url, owner.token, `mutation($id: ID!) { deregisterCloud(id: $id) }`, { id: withdrawnId });
      expect(deregisterCloud).toBe(true);
      expect(await jobState(jobId)).toBe('CANCELLING');
      // Kept while the cancelled job still has to delete what it made with them.
      expect(await credentialBytes(withdrawnId)).toBeGreaterThan(0);
      await ownerCloud().control.clearFaults();

      const job = await end(guest.token, jobId);
      expect(job.state).toBe('CANCELLED');
      expect(job.resultVm).toBeNull();
      // Whatever it made before it saw the cancellation (the server too, if BOOT got that far) is gone.
      await expectNothingLeft(jobId);
      await waitFor(async () => (await credentialBytes(withdrawnId)) === 0, 'the credentials to be wiped once no job needs them');
      const { auditLog } = await gqlOk(broker.url, guest.token, `{ auditLog(first: 50) { action objectId details } }`);
      expect(auditLog.find((a: { action: string; objectId: string }) => a.action === 'cloneJob.cancel' && a.objectId === jobId)?.details.reason).toBe('the cloud was deregistered by its owner');
    });

    it("refuses while the owner's own clone uses the cloud, cancelling nobody; once that has ended, a guest's waiting clone is cancelled and leaves nothing", async () => {
      const typeId = (await gqlOk(broker.url, ownerOperator, `mutation($n: String!) { createVmType(input: { name: $n, minInstances: 0, maxInstances: 3 }) { id } }`, { n: `own-${Math.random().toString(36).slice(2, 8)}` })).createVmType.id;
      const server = await bootSandboxServer(ownerCloud(), `own-${Math.random().toString(36).slice(2, 8)}`, undefined, factory);
      const ownVmId = (await gqlOk(broker.url, ownerOperator, `mutation($i: ImportVmInput!) { importVm(input: $i) { id } }`, { i: { cloudId: withdrawnId, serverId: server.id, vmTypeId: typeId } })).importVm.id;
      const guestVmId = await importVm();
      await ownerCloud().control.resetCalls();
      // The owner's clone within its cloud holds the only runner in SNAPSHOT; the guest's waits QUEUED behind it.
      await ownerCloud().control.injectFault({ operation: 'nova.server.createImage', mode: 'hang' });
      const ownJobId = await startClone(ownerOperator, ownVmId, withdrawnId);
      await waitFor(async () => (await calls('nova.server.createImage')) >= 1, "the owner's job to snapshot");
      const guestJobId = await startClone(guest.token, guestVmId, withdrawnId);
      expect(await jobState(guestJobId)).toBe('QUEUED');

      const refused = await gqlError(broker.url, owner.token, `mutation($id: ID!) { deregisterCloud(id: $id) }`, { id: withdrawnId });
      expect(refused.extensions?.code).toBe('CONFLICT');
      expect(refused.message).toContain('1 of your clone job(s) in progress');
      expect(await jobState(guestJobId)).toBe('QUEUED');
      expect(await credentialBytes(withdrawnId)).toBeGreaterThan(0);

      // The owner cancels its own clone; once it has ended, deregistering goes through.
      await gqlOk(broker.url, ownerOperator, `mutation($id: ID!) { cancelCloneJob(id: $id) { state } }`, { id: ownJobId });
      await ownerCloud().control.clearFaults();
      await waitFor(async () => (await jobState(ownJobId)) === 'CANCELLED', "the owner's job to end");
      // The guest's job may have been handed the runner meanwhile: it is cancelled wherever it is.
      expect((await gqlOk(broker.url, owner.token, `mutation($id: ID!) { deregisterCloud(id: $id) }`, { id: withdrawnId })).deregisterCloud).toBe(true);
      const job = await end(guest.token, guestJobId);
      expect(job.state).toBe('CANCELLED');
      await expectNothingLeft(guestJobId);
      await waitFor(async () => (await credentialBytes(withdrawnId)) === 0, 'the credentials to be wiped');
    });

    it('stopping sharing cancels a guest clone still QUEUED for the cloud: it ends CANCELLED without cloning into it', async () => {
      const heldVmId = await importVm();
      const queuedVmId = await importVm();
      // Another guest clone (into the first shared cloud) holds the only runner in SNAPSHOT.
      await sandbox.cloud('tb-guest').control.injectFault({ operation: 'nova.server.createImage', mode: 'hang' });
      const heldJobId = await startClone(guest.token, heldVmId, sharedCloudId);
      await waitFor(async () => ((await sandbox.cloud('tb-guest').control.calls())['nova.server.createImage'] ?? 0) >= 1, 'the first job to snapshot');
      const queuedJobId = await startClone(guest.token, queuedVmId, withdrawnId);
      expect(await jobState(queuedJobId)).toBe('QUEUED');

      await gqlOk(broker.url, owner.token, `mutation($id: ID!) { updateCloud(id: $id, input: { shared: false }) { id } }`, { id: withdrawnId });
      expect(await jobState(queuedJobId)).toBe('CANCELLING');
      await sandbox.cloud('tb-guest').control.clearFaults();

      expect((await end(guest.token, heldJobId)).state).toBe('DONE');
      const job = await end(guest.token, queuedJobId);
      expect(job.state).toBe('CANCELLED');
      expect(job.phases).toEqual([]);
      await expectNothingLeft(queuedJobId);
      // The only server made in the owner's cloud is the first job's clone.
      expect(await calls('nova.server.create')).toBe(1);
      // The owner's cloud keeps its credentials: it is still registered, only no longer shared.
      expect(await credentialBytes(withdrawnId)).toBeGreaterThan(0);
    });
  });
});
