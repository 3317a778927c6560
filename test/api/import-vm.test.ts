/** importVm and cloudServers against a sandbox cloud's real Nova wire API. */
import { Sandbox } from '../../sandbox';
import { Server } from '../../src/ports/cloud-api.port';
import { startTestBroker, TestBroker } from '../support/broker';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlError, gqlOk } from '../support/graphql';
import { createTenantWithToken, TenantToken } from '../support/tenants';
import { bootSandboxServer, registerCloudInput, startSandboxClouds } from '../support/sandbox';

const REGISTER = `mutation($input: RegisterCloudInput!) { registerCloud(input: $input) { id } }`;
const IMPORT = `mutation($input: ImportVmInput!) { importVm(input: $input) { id name serverId state vmTypeId origin addresses { address kind network } cloud { id } } }`;

describe('importVm', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let sandbox: Sandbox;
  let url: string;
  let op: TenantToken;
  let other: TenantToken;
  let cloudId: string;
  let sharedCloudId: string;
  let vmTypeId: string;
  let server: Server;

  beforeAll(async () => {
    sandbox = await startSandboxClouds('imp-a', 'imp-b');
    db = await createTestDatabase();
    broker = await startTestBroker(db.url);
    url = broker.url;
    op = await createTenantWithToken(url, broker.adminToken, 'importer');
    other = await createTenantWithToken(url, broker.adminToken, 'other-operator');
    cloudId = (await gqlOk(url, op.token, REGISTER, { input: registerCloudInput(sandbox.cloud('imp-a'), 'home') })).registerCloud.id;
    sharedCloudId = (await gqlOk(url, other.token, REGISTER, { input: registerCloudInput(sandbox.cloud('imp-b'), 'offered', { shared: true }) })).registerCloud.id;
    vmTypeId = (await gqlOk(url, op.token, `mutation { createVmType(input: { name: "opensips", minInstances: 1, maxInstances: 3 }) { id } }`)).createVmType.id;
    server = await bootSandboxServer(sandbox.cloud('imp-a'), 'sip-1');
  });

  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
    await sandbox?.stop();
  });

  it('lists the servers of an own cloud', async () => {
    const { cloudServers } = await gqlOk(url, op.token, `query($c: ID!) { cloudServers(cloudId: $c) { id name status addresses { address } } }`, { c: cloudId });
    expect(cloudServers).toEqual(expect.arrayContaining([expect.objectContaining({ id: server.id, name: 'sip-1', status: 'ACTIVE' })]));
  });

  it('adopts a running server with its addresses into a VM type', async () => {
    const { importVm } = await gqlOk(url, op.token, IMPORT, { input: { cloudId, serverId: server.id, vmTypeId } });
    expect(importVm).toMatchObject({ name: 'sip-1', serverId: server.id, state: 'ACTIVE', vmTypeId, origin: 'IMPORTED', cloud: { id: cloudId } });
    expect(importVm.addresses.map((a: { address: string }) => a.address)).toEqual(server.addresses.map((a) => a.address));
    expect(importVm.addresses[0].address).toMatch(/^127\./);
    const { vms } = await gqlOk(url, op.token, `query($t: ID) { vms(vmTypeId: $t) { id } }`, { t: vmTypeId });
    expect(vms).toEqual([{ id: importVm.id }]);
  });

  it('refuses to import the same server twice', async () => {
    const err = await gqlError(url, op.token, IMPORT, { input: { cloudId, serverId: server.id, vmTypeId } });
    expect(err.extensions).toMatchObject({ code: 'CONFLICT', field: 'input.serverId' });
  });

  it('names the field for an unknown server, a foreign VM type and a cloud that is only shared', async () => {
    const missing = await gqlError(url, op.token, IMPORT, { input: { cloudId, serverId: '00000000-0000-4000-8000-000000000000', vmTypeId } });
    expect(missing.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.serverId' });
    const foreignType = await gqlError(url, other.token, IMPORT, { input: { cloudId: sharedCloudId, serverId: server.id, vmTypeId } });
    expect(foreignType.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.vmTypeId' });
    const sharedOnly = await gqlError(url, op.token, IMPORT, { input: { cloudId: sharedCloudId, serverId: server.id, vmTypeId } });
    expect(sharedOnly.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.cloudId' });
    const foreignCloud = await gqlError(url, other.token, `query($c: ID!) { cloudServers(cloudId: $c) { id } }`, { c: cloudId });
    expect(foreignCloud.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'cloudId' });
  });
});
