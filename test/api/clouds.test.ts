/** Registering clouds against a real Keystone wire API (the sandbox), over the broker's HTTP API. */
import { Sandbox, SandboxCloud } from '../../sandbox';
import { startTestBroker, TestBroker } from '../support/broker';
import { createTestDatabase, TestDatabase } from '../support/database';
import { CloneJobState } from '../../src/domain/clone-phase';
import { insertCloneJob, insertVm } from '../support/fixtures';
import { gqlError, gqlOk } from '../support/graphql';
import { addToken, createTenantWithToken, TenantToken } from '../support/tenants';
import { registerCloudInput, startSandboxClouds } from '../support/sandbox';

const CLOUD_FIELDS = `id name authUrl region credentialKind labels { key value } bandwidthMbps costPerHour diskFormats shared owned health healthLatencyMs
  defaults { network floatingNetwork flavor availabilityZone } catalog { type url }`;
const REGISTER = `mutation($input: RegisterCloudInput!) { registerCloud(input: $input) { ${CLOUD_FIELDS} } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateCloudInput!) { updateCloud(id: $id, input: $input) { ${CLOUD_FIELDS} } }`;
const DEREGISTER = `mutation($id: ID!) { deregisterCloud(id: $id) }`;

function passwordInput(cloud: SandboxCloud, name: string, extra: Record<string, unknown> = {}) {
  return registerCloudInput(cloud, name, { labels: [{ key: 'jurisdiction', value: 'DE' }], bandwidthMbps: 1000, costPerHour: 0.12, ...extra });
}

describe('clouds', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let sandbox: Sandbox;
  let cloudA: SandboxCloud;
  let url: string;
  let op: TenantToken;
  let partner: TenantToken;

  beforeAll(async () => {
    sandbox = await startSandboxClouds('sb-a', 'sb-b');
    cloudA = sandbox.cloud('sb-a');
    db = await createTestDatabase();
    broker = await startTestBroker(db.url);
    url = broker.url;
    op = await createTenantWithToken(url, broker.adminToken, 'operator-1');
    partner = await createTenantWithToken(url, broker.adminToken, 'partner-1', 'PARTNER');
  });

  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
    await sandbox?.stop();
  });

  const cloudCount = async () => Number((await broker.dataSource.query('SELECT count(*) AS n FROM clouds'))[0].n);

  it('registers a cloud with password credentials after Keystone accepts them, with its catalog', async () => {
    const { registerCloud } = await gqlOk(url, op.token, REGISTER, { input: passwordInput(cloudA, 'home', { defaults: { network: 'private', flavor: 'm1.tiny' } }) });
    expect(registerCloud).toMatchObject({
      name: 'home',
      authUrl: cloudA.authUrl.replace(/\/+$/, ''),
      region: cloudA.region,
      credentialKind: 'PASSWORD',
      labels: [{ key: 'jurisdiction', value: 'DE' }],
      bandwidthMbps: 1000,
      costPerHour: 0.12,
      diskFormats: ['qcow2', 'raw'],
      shared: false,
      owned: true,
      health: 'HEALTHY',
      defaults: { network: 'private', floatingNetwork: null, flavor: 'm1.tiny', availabilityZone: null },
    });
    expect(registerCloud.catalog.map((e: { type: string }) => e.type)).toEqual(expect.arrayContaining(['compute', 'image', 'network']));
    expect(registerCloud.healthLatencyMs).toBeGreaterThanOrEqual(0);
  });

  it('registers a cloud with an application credential', async () => {
    const ac = sandbox.cloud('sb-b').credentials.applicationCredential;
    const input = {
      ...passwordInput(sandbox.cloud('sb-b'), 'partner-b'),
      credentials: { applicationCredentialId: ac.applicationCredentialId, applicationCredentialSecret: ac.applicationCredentialSecret },
    };
    const { registerCloud } = await gqlOk(url, op.token, REGISTER, { input });
    expect(registerCloud).toMatchObject({ name: 'partner-b', credentialKind: 'APPLICATION_CREDENTIAL', health: 'HEALTHY' });
  });

  it('never returns credentials and stores them only encrypted', async () => {
    const secret = cloudA.credentials.password.password;
    const appSecret = sandbox.cloud('sb-b').credentials.applicationCredential.applicationCredentialSecret;
    const { clouds } = await gqlOk(url, op.token, `{ clouds { ${CLOUD_FIELDS} } }`);
    expect(clouds.length).toBe(2);
    const rows = JSON.stringify(await broker.dataSource.query(`SELECT *, encode(credentials_ciphertext, 'escape') AS c FROM clouds`));
    expect(rows).not.toContain(appSecret);
    expect(rows).not.toContain(`"${secret}"`);
    const audit = JSON.stringify(await broker.dataSource.query(`SELECT * FROM audit_log`));
    expect(audit).not.toContain(appSecret);
  });

  it('refuses credentials Keystone rejects, and stores nothing', async () => {
    const before = await cloudCount();
    const input = passwordInput(cloudA, 'wrong-password');
    input.credentials.password = 'not-the-password';
    const err = await gqlError(url, op.token, REGISTER, { input });
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.credentials' });
    expect(err.message).toContain('wrong-password');
    expect(await cloudCount()).toBe(before);
  });

  it('reports an unreachable Keystone as UPSTREAM_UNAVAILABLE, and stores nothing', async () => {
    const before = await cloudCount();
    const err = await gqlError(url, op.token, REGISTER, { input: passwordInput(cloudA, 'nowhere', { authUrl: 'http://127.0.0.1:9/v3' }) });
    expect(err.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(err.message).toContain('nowhere');
    expect(await cloudCount()).toBe(before);
  });

  it('refuses a region without the needed endpoints', async () => {
    const err = await gqlError(url, op.token, REGISTER, { input: passwordInput(cloudA, 'bad-region', { region: 'NoSuchRegion' }) });
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.region' });
  });

  it.each([
    [{ credentials: {} }, 'input.credentials', 'application credential'],
    [{ credentials: { applicationCredentialId: 'x', username: 'admin' } }, 'input.credentials', 'not both'],
    [{ credentials: { applicationCredentialId: 'x' } }, 'input.credentials.applicationCredentialSecret', 'required'],
    [{ credentials: { username: 'admin', password: 'p', projectName: 'admin', userDomainName: 'Default' } }, 'input.credentials.projectDomainName', 'required'],
    [{ authUrl: 'keystone.example:5000' }, 'input.authUrl', 'http'],
    [{ authUrl: 'not a url' }, 'input.authUrl', 'URL'],
    [{ authUrl: 'ftp://keystone.example/v3' }, 'input.authUrl', 'http'],
    [{ region: 'Region One' }, 'input.region', 'letters'],
    [{ bandwidthMbps: 0 }, 'input.bandwidthMbps', 'at least 1'],
    [{ costPerHour: -1 }, 'input.costPerHour', 'negative'],
    [{ labels: [{ key: 'a', value: '1' }, { key: 'a', value: '2' }] }, 'input.labels', 'unique'],
    [{ labels: [{ key: '-bad', value: '1' }] }, 'input.labels.0.key', 'letter or digit'],
    [{ diskFormats: ['exe'] }, 'input.diskFormats.0', ''],
    [{ name: '' }, 'input.name', 'must not be empty'],
  ])('rejects %j naming %s (before contacting Keystone)', async (patch, field, rule) => {
    const before = await cloudCount();
    const err = await gqlError(url, op.token, REGISTER, { input: { ...passwordInput(cloudA, 'invalid'), ...patch } });
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(String(err.extensions?.rule)).toContain(rule);
    expect(await cloudCount()).toBe(before);
  });

  it('checks boot defaults and guest allow-lists against the cloud, naming the field and what the cloud has', async () => {
    const bad: [Record<string, unknown>, string, RegExp][] = [
      [{ defaults: { flavor: 'm9.huge' } }, 'input.defaults.flavor', /has m1\.tiny, m1\.small/],
      [{ defaults: { network: 'nowhere' } }, 'input.defaults.network', /has private/],
      [{ defaults: { network: 'public' } }, 'input.defaults.network', /that servers attach to/],
      [{ defaults: { floatingNetwork: 'private' } }, 'input.defaults.floatingNetwork', /external network .*has public/],
      [{ defaults: { availabilityZone: 'mars' } }, 'input.defaults.availabilityZone', /has nova/],
      [{ guestFlavors: ['m1.small', 'gold'] }, 'input.guestFlavors.1', /flavor of cloud/],
      [{ guestNetworks: ['public'] }, 'input.guestNetworks.0', /that servers attach to/],
    ];
    for (const [extra, field, rule] of bad) {
      const err = await gqlError(url, op.token, REGISTER, { input: passwordInput(cloudA, 'checked', extra) });
      expect({ field: err.extensions?.field, code: err.extensions?.code }).toEqual({ field, code: 'BAD_USER_INPUT' });
      expect(err.extensions?.rule).toMatch(rule);
    }
    expect((await gqlOk(url, op.token, '{ clouds { name } }')).clouds.map((c: { name: string }) => c.name)).not.toContain('checked');

    const good = { defaults: { flavor: 'm1.tiny', network: 'private', floatingNetwork: 'public', availabilityZone: 'nova' }, guestFlavors: ['m1.small'], guestNetworks: ['private'] };
    const { registerCloud } = await gqlOk(url, op.token, REGISTER, { input: passwordInput(cloudA, 'checked', good) });
    // An update is checked too, and a refused one changes nothing.
    const err = await gqlError(url, op.token, UPDATE, { id: registerCloud.id, input: { defaults: { flavor: 'm9.huge' } } });
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.defaults.flavor' });
    const { cloud } = await gqlOk(url, op.token, `query($id: ID!) { cloud(id: $id) { defaults { flavor } guestFlavors guestNetworks } }`, { id: registerCloud.id });
    expect(cloud).toEqual({ defaults: { flavor: 'm1.tiny' }, guestFlavors: ['m1.small'], guestNetworks: ['private'] });
  });

  it('refuses a duplicate name in the tenant', async () => {
    const err = await gqlError(url, op.token, REGISTER, { input: passwordInput(cloudA, 'home') });
    expect(err.extensions).toMatchObject({ code: 'CONFLICT', field: 'input.name' });
  });

  it('updates labels without touching the connection, and re-verifies new credentials', async () => {
    const { clouds } = await gqlOk(url, op.token, `{ clouds { id name } }`);
    const home = clouds.find((c: { name: string }) => c.name === 'home');
    const { updateCloud } = await gqlOk(url, op.token, UPDATE, { id: home.id, input: { labels: [{ key: 'cert', value: 'c5' }], costPerHour: 0.2 } });
    expect(updateCloud).toMatchObject({ labels: [{ key: 'cert', value: 'c5' }], costPerHour: 0.2, credentialKind: 'PASSWORD' });

    const bad = await gqlError(url, op.token, UPDATE, {
      id: home.id,
      input: { credentials: { ...passwordInput(cloudA, 'x').credentials, password: 'wrong' } },
    });
    expect(bad.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.credentials' });
    const ac = cloudA.credentials.applicationCredential;
    const { updateCloud: switched } = await gqlOk(url, op.token, UPDATE, {
      id: home.id,
      input: { credentials: { applicationCredentialId: ac.applicationCredentialId, applicationCredentialSecret: ac.applicationCredentialSecret } },
    });
    expect(switched.credentialKind).toBe('APPLICATION_CREDENTIAL');
  });

  it('lets partners register shared clouds that other tenants see but cannot change', async () => {
    const { registerCloud } = await gqlOk(url, partner.token, REGISTER, { input: passwordInput(cloudA, 'offered', { shared: true }) });
    const { clouds } = await gqlOk(url, op.token, `{ clouds { id name owned } }`);
    expect(clouds).toEqual(expect.arrayContaining([{ id: registerCloud.id, name: 'offered', owned: false }]));
    const { cloud } = await gqlOk(url, op.token, `query($id: ID!) { cloud(id: $id) { id name } }`, { id: registerCloud.id });
    expect(cloud).toEqual({ id: registerCloud.id, name: 'offered' });
    expect((await gqlError(url, op.token, UPDATE, { id: registerCloud.id, input: { costPerHour: 0 } })).extensions?.code).toBe('FORBIDDEN');
    expect((await gqlError(url, op.token, DEREGISTER, { id: registerCloud.id })).extensions?.code).toBe('FORBIDDEN');

    const { registerCloud: priv } = await gqlOk(url, partner.token, REGISTER, { input: passwordInput(cloudA, 'private-one') });
    const { cloud: hidden } = await gqlOk(url, op.token, `query($id: ID!) { cloud(id: $id) { id } }`, { id: priv.id });
    expect(hidden).toBeNull();
    expect((await gqlError(url, op.token, UPDATE, { id: priv.id, input: { costPerHour: 0 } })).extensions?.code).toBe('NOT_FOUND');
  });

  it('does not let viewers register clouds', async () => {
    const viewer = await addToken(url, broker.adminToken, op.tenantId, 'VIEWER');
    expect((await gqlError(url, viewer, REGISTER, { input: passwordInput(cloudA, 'viewer-cloud') })).extensions?.code).toBe('FORBIDDEN');
  });

  it('deregisters a cloud: refused while a clone job uses it; then retires its VMs (own and guests\'), wipes its credentials and frees its name', async () => {
    const { registerCloud } = await gqlOk(url, op.token, REGISTER, { input: passwordInput(cloudA, 'temporary', { shared: true }) });
    const own = await insertVm(broker.dataSource, op.tenantId, registerCloud.id);
    // A guest's clone lives in the shared cloud: it must not keep the owner from deregistering.
    const guest = await createTenantWithToken(url, broker.adminToken, 'guest-of-temporary');
    const guestVm = await insertVm(broker.dataSource, guest.tenantId, registerCloud.id);
    const job = await insertCloneJob(broker.dataSource, own, registerCloud.id, CloneJobState.RUNNING);
    const busy = await gqlError(url, op.token, DEREGISTER, { id: registerCloud.id });
    expect(busy.extensions?.code).toBe('CONFLICT');
    expect(busy.message).toContain('clone job');
    await broker.dataSource.query(`UPDATE clone_jobs SET state = 'DONE' WHERE id = $1`, [job.id]);

    expect((await gqlOk(url, op.token, DEREGISTER, { id: registerCloud.id })).deregisterCloud).toBe(true);
    const retired = await broker.dataSource.query(`SELECT id, state, retired_at FROM vms WHERE id = ANY($1) ORDER BY id`, [[own.id, guestVm.id]]);
    expect(retired.map((r: { state: string }) => r.state)).toEqual(['RETIRED', 'RETIRED']);
    expect(retired.every((r: { retired_at: Date | null }) => r.retired_at !== null)).toBe(true);
    expect((await gqlOk(url, op.token, `{ vms { id } }`)).vms.map((v: { id: string }) => v.id)).not.toContain(own.id);
    const { auditLog } = await gqlOk(url, guest.token, `{ auditLog(first: 20) { action objectId } }`);
    expect(auditLog).toEqual(expect.arrayContaining([{ action: 'vm.retire', objectId: guestVm.id }]));
    const [row] = await broker.dataSource.query('SELECT length(credentials_ciphertext) AS n, deregistered_at FROM clouds WHERE id = $1', [registerCloud.id]);
    expect(Number(row.n)).toBe(0);
    expect(row.deregistered_at).not.toBeNull();
    const { cloud } = await gqlOk(url, op.token, `query($id: ID!) { cloud(id: $id) { id } }`, { id: registerCloud.id });
    expect(cloud).toBeNull();
    const { registerCloud: again } = await gqlOk(url, op.token, REGISTER, { input: passwordInput(cloudA, 'temporary') });
    expect(again.id).not.toBe(registerCloud.id);
  });

  it("stops sharing: guests' VMs in the cloud are retired, the owner's stay", async () => {
    const { registerCloud } = await gqlOk(url, op.token, REGISTER, { input: passwordInput(cloudA, 'unshared-later', { shared: true }) });
    const own = await insertVm(broker.dataSource, op.tenantId, registerCloud.id);
    const guest = await createTenantWithToken(url, broker.adminToken, 'guest-of-unshared');
    const guestVm = await insertVm(broker.dataSource, guest.tenantId, registerCloud.id);
    await gqlOk(url, op.token, UPDATE, { id: registerCloud.id, input: { shared: false } });
    const rows = await broker.dataSource.query(`SELECT id, state FROM vms WHERE id = ANY($1)`, [[own.id, guestVm.id]]);
    expect(Object.fromEntries(rows.map((r: { id: string; state: string }) => [r.id, r.state]))).toEqual({ [own.id]: 'ACTIVE', [guestVm.id]: 'RETIRED' });
    // And the guest can no longer clone from it.
    const err = await gqlError(url, guest.token, `mutation($input: CloneVmInput!) { cloneVm(input: $input) { id } }`, { input: { vmId: guestVm.id, targetCloudId: registerCloud.id } });
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.vmId' });
  });
});
