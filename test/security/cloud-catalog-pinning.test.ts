/**
 * Finding: the catalog was re-read from every new token and obeyed, so a partner's Keystone could
 * move the broker's compute, image or network traffic anywhere after registration. Now the catalog
 * is pinned when the cloud is verified; a token whose catalog differs is refused (a clear,
 * non-retryable error saying to run verifyCloud), the health probe reports it, and verifyCloud
 * (owner only) re-checks and re-pins.
 */
import { Sandbox, SandboxCloud } from '../../sandbox';
import { startTestBroker, TestBroker } from '../support/broker';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlError, gqlOk } from '../support/graphql';
import { registerCloudInput, startSandboxClouds } from '../support/sandbox';
import { addToken, createTenantWithToken, TenantToken } from '../support/tenants';
import { waitFor } from '../support/wait';

const CLOUD = `id health healthMessage catalog { type url }`;
const VERIFY = `mutation($id: ID!) { verifyCloud(id: $id) { ${CLOUD} } }`;
const SERVERS = `query($c: ID!) { cloudServers(cloudId: $c) { id } }`;


describe('the catalog is pinned when a cloud is verified', () => {
  let sandbox: Sandbox;
  let a: SandboxCloud;
  let b: SandboxCloud;
  let db: TestDatabase;
  let broker: TestBroker;
  let owner: TenantToken;
  let cloudId: string;

  const cloud = async () => (await gqlOk(broker.url, owner.token, `query($id: ID!) { cloud(id: $id) { ${CLOUD} } }`, { id: cloudId })).cloud;
  const compute = (c: { catalog: { type: string; url: string }[] }) => c.catalog.find((e) => e.type === 'compute')?.url;

  beforeAll(async () => {
    sandbox = await startSandboxClouds('pin-a', 'pin-b');
    a = sandbox.cloud('pin-a');
    b = sandbox.cloud('pin-b');
    db = await createTestDatabase();
    broker = await startTestBroker(db.url, { CLOUD_HEALTH_INTERVAL_SECONDS: '1' });
    owner = await createTenantWithToken(broker.url, broker.adminToken, 'pin-owner');
    cloudId = (await gqlOk(broker.url, owner.token, `mutation($input: RegisterCloudInput!) { registerCloud(input: $input) { id } }`, { input: registerCloudInput(a, 'pinned') }))
      .registerCloud.id;
  });

  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
    await sandbox?.stop();
  });

  it('refuses, not obeys, a later token whose catalog moves compute elsewhere; the probe reports it; verifyCloud re-pins', async () => {
    expect(compute(await cloud())).toBe(a.urls.compute);
    expect((await gqlOk(broker.url, owner.token, SERVERS, { c: cloudId })).cloudServers).toEqual([]);

    // Keystone now sends compute traffic to another cloud; new tokens carry that catalog.
    await a.control.setCatalogOverrides({ compute: b.urls.compute });
    await a.control.revokeTokens();
    await b.control.resetCalls();
    const err = await gqlError(broker.url, owner.token, SERVERS, { c: cloudId });
    expect(err.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(err.message).toBe(
      `cloud pinned (${cloudId}): Keystone now lists a different compute endpoint than the one pinned when the cloud was verified; the broker does not follow it until the cloud's owner runs verifyCloud`,
    );
    // Not obeyed: the endpoint the new catalog names saw nothing.
    expect(Object.keys(await b.control.calls())).toEqual([]);

    const reported = await waitFor(async () => {
      const c = await cloud();
      return c.health === 'UNREACHABLE' && c;
    }, 'the probe to report the changed catalog');
    expect(reported.healthMessage).toContain('different compute endpoint');
    expect(reported.healthMessage).toContain('verifyCloud');
    expect(compute(reported)).toBe(a.urls.compute);

    // The same service under another name for the same host is still a change until the owner accepts it.
    const alias = a.urls.compute.replace('//127.0.0.1:', '//localhost:');
    await a.control.setCatalogOverrides({ compute: alias });
    await expect(gqlError(broker.url, owner.token, SERVERS, { c: cloudId })).resolves.toMatchObject({ extensions: { code: 'UPSTREAM_UNAVAILABLE' } });

    const { verifyCloud } = await gqlOk(broker.url, owner.token, VERIFY, { id: cloudId });
    expect(verifyCloud).toMatchObject({ health: 'HEALTHY', healthMessage: null });
    expect(compute(verifyCloud)).toBe(alias);
    expect((await gqlOk(broker.url, owner.token, SERVERS, { c: cloudId })).cloudServers).toEqual([]);
    await waitFor(async () => (await cloud()).health === 'HEALTHY', 'the probe to agree');
    const audited = await broker.dataSource.query(`SELECT action, details FROM audit_log WHERE object_id = $1 ORDER BY id`, [cloudId]);
    expect(audited.map((r: { action: string }) => r.action)).toEqual(['cloud.register', 'cloud.verify']);
  });

  it('verifyCloud re-checks the endpoint policy: a catalog with a refused endpoint is not pinned, and nothing changes', async () => {
    const before = await cloud();
    await a.control.setCatalogOverrides({ image: 'http://169.254.169.254/image' });
    try {
      const err = await gqlError(broker.url, owner.token, VERIFY, { id: cloudId });
      expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.authUrl' });
      expect(err.extensions?.rule).toContain("the catalog's image endpoint resolves to 169.254.169.254, which is link-local");
      expect((await cloud()).catalog).toEqual(before.catalog);
    } finally {
      await a.control.setCatalogOverrides({ image: null });
    }
  });

  it('only the owner may verify: another tenant gets NOT_FOUND, a viewer of the owner FORBIDDEN', async () => {
    const other = await createTenantWithToken(broker.url, broker.adminToken, 'pin-stranger');
    expect((await gqlError(broker.url, other.token, VERIFY, { id: cloudId })).extensions?.code).toBe('NOT_FOUND');
    const viewer = await addToken(broker.url, broker.adminToken, owner.tenantId, 'VIEWER');
    expect((await gqlError(broker.url, viewer, VERIFY, { id: cloudId })).extensions?.code).toBe('FORBIDDEN');
  });
});
