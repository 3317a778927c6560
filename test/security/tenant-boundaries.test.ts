/**
 * Tenant boundaries inside a shared cloud, through the API against sandbox clouds: a guest's
 * clone boots with what the owner offers guests (its defaults, or what it allow-lists), never
 * with a flavor or network the guest's VM type names; and the owner is not told a guest's ids.
 */
import { Sandbox } from '../../sandbox';
import { OpenStackCloudApiFactory } from '../../src/adapters/openstack/openstack-cloud-api.factory';
import { CloudApi } from '../../src/ports/cloud-api.port';
import { startTestBroker, TestBroker } from '../support/broker';
import { registerSandboxCloud, waitForJobState } from '../support/clone-fixture';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlError, gqlOk } from '../support/graphql';
import { bootSandboxServer, labCloudApiFactory, registerCloudInput, sandboxApi, startSandboxClouds } from '../support/sandbox';
import { addToken, createTenantWithToken, TenantToken } from '../support/tenants';

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
    broker = await startTestBroker(db.url);
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
});
