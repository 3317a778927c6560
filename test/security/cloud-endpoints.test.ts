/**
 * Finding: registerCloud accepted any host, and every endpoint of a tenant-run Keystone catalog was
 * then used verbatim, so a partner could make the broker send requests to what only the broker can
 * reach (loopback services, cloud metadata at 169.254.169.254). Now the Keystone URL and every
 * catalog endpoint pass an address policy, checked on the address actually connected to.
 *
 * Three real brokers on one database, differing only in their endpoint settings: `lab`
 * (127.0.0.0/8 allowed, as tests and the sandbox need), `carved` (the same, minus 127.0.0.2) and
 * `strict` (the production default for addresses). Sandbox clouds listen on 127.0.0.1, one on
 * 127.0.0.2.
 */
import crypto from 'node:crypto';
import { Sandbox, SandboxCloud } from '../../sandbox';
import { newAdminSecret, startTestBroker, TestBroker } from '../support/broker';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlError, gqlOk } from '../support/graphql';
import { RecordingListener, startRecordingListener } from '../support/listeners';
import { bootSandboxServer, labCloudApiFactory, registerCloudInput, startSandboxClouds } from '../support/sandbox';
import { createTenantWithToken, TenantToken } from '../support/tenants';

const REGISTER = `mutation($input: RegisterCloudInput!) { registerCloud(input: $input) { id name authUrl catalog { type url } } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateCloudInput!) { updateCloud(id: $id, input: $input) { id authUrl } }`;
const DEREGISTER = `mutation($id: ID!) { deregisterCloud(id: $id) }`;
const SERVERS = `query($c: ID!) { cloudServers(cloudId: $c) { id } }`;
const CLASSES = 'cloud endpoints may not be loopback, link-local, unspecified, multicast or broadcast addresses (CLOUD_ENDPOINT_ALLOW adds networks)';

describe('cloud endpoints cannot reach what the broker can reach', () => {
  let sandbox: Sandbox;
  let home: SandboxCloud;
  let two: SandboxCloud;
  let staged: SandboxCloud;
  let db: TestDatabase;
  let lab: TestBroker;
  let carved: TestBroker;
  let strict: TestBroker;
  let tenant: TenantToken;

  /** The same URL with another host (the path of every sandbox URL is the same on any host). */
  const onHost = (url: string, host: string) => url.replace('//127.0.0.1:', `//${host}:`);
  const cloudCount = async () => Number((await lab.dataSource.query('SELECT count(*) AS n FROM clouds WHERE deregistered_at IS NULL'))[0].n);
  const register = (broker: TestBroker, cloud: SandboxCloud, name: string, extra: Record<string, unknown> = {}) =>
    gqlOk(broker.url, tenant.token, REGISTER, { input: registerCloudInput(cloud, name, extra) }).then((d) => d.registerCloud as { id: string; catalog: { type: string; url: string }[] });
  const refusal = async (broker: TestBroker, cloud: SandboxCloud, name: string, extra: Record<string, unknown>) => {
    const before = await cloudCount();
    const err = await gqlError(broker.url, tenant.token, REGISTER, { input: registerCloudInput(cloud, name, extra) });
    expect(await cloudCount()).toBe(before);
    return err;
  };

  beforeAll(async () => {
    // ep-two on a second loopback address: the whole of 127.0.0.0/8 is this machine.
    sandbox = await startSandboxClouds('ep-home', 'ep-staged', { name: 'ep-two', host: '127.0.0.2' });
    home = sandbox.cloud('ep-home');
    staged = sandbox.cloud('ep-staged');
    two = sandbox.cloud('ep-two');
    db = await createTestDatabase();
    // Every broker is up before any cloud exists: their first health probe rounds find nothing to probe.
    const shared = { INTERCLOUD_ADMIN_TOKEN: newAdminSecret(), INTERCLOUD_SECRET_KEY: crypto.randomBytes(32).toString('base64'), CLOUD_HEALTH_INTERVAL_SECONDS: '86400' };
    lab = await startTestBroker(db.url, shared);
    carved = await startTestBroker(db.url, { ...shared, CLONE_CONCURRENCY: '0', CLOUD_ENDPOINT_ALLOW: '127.0.0.0/8', CLOUD_ENDPOINT_DENY: '127.0.0.2/32' });
    strict = await startTestBroker(db.url, { ...shared, CLONE_CONCURRENCY: '0', CLOUD_ENDPOINT_ALLOW: '' });
    tenant = await createTenantWithToken(lab.url, shared.INTERCLOUD_ADMIN_TOKEN, 'endpoint-tester');
  });

  afterAll(async () => {
    for (const b of [strict, carved, lab]) await b?.stop();
    await db?.drop();
    await sandbox?.stop();
  });

  afterEach(async () => {
    await staged.control.setCatalogOverrides({ compute: null, image: null, network: null, identity: null });
  });

  it('refuses a Keystone URL on the cloud metadata address 169.254.169.254 (link-local), naming the rule', async () => {
    const err = await refusal(lab, home, 'metadata', { authUrl: 'http://169.254.169.254/identity/v3' });
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.authUrl', rule: `resolves to 169.254.169.254, which is link-local; ${CLASSES}` });
  });

  it('refuses an IPv6 link-local Keystone URL ([fe80::1])', async () => {
    const err = await refusal(lab, home, 'v6-link-local', { authUrl: 'http://[fe80::1]:5000/v3' });
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.authUrl', rule: `resolves to fe80::1, which is link-local; ${CLASSES}` });
  });

  it('judges IPv4-mapped IPv6 ([::ffff:127.0.0.1]) as the IPv4 address it is: loopback, refused unless allowed, and then dialled as 127.0.0.1', async () => {
    const mapped = onHost(home.authUrl, '[::ffff:127.0.0.1]');
    const err = await refusal(strict, home, 'mapped-loopback', { authUrl: mapped });
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.authUrl', rule: `resolves to 127.0.0.1, which is loopback; ${CLASSES}` });
    // With 127.0.0.0/8 allowed it is that network, not a way around it: the sandbox on 127.0.0.1 answers.
    const cloud = await register(lab, home, 'mapped-allowed', { authUrl: mapped });
    await gqlOk(lab.url, tenant.token, DEREGISTER, { id: cloud.id });
  });

  it('refuses a host name that resolves to a refused address (localhost, without 127.0.0.0/8 allowed), and the IP literal alike', async () => {
    const byName = await refusal(strict, home, 'by-name', { authUrl: onHost(home.authUrl, 'localhost') });
    expect(byName.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.authUrl', rule: `resolves to 127.0.0.1, which is loopback; ${CLASSES}` });
    const literal = await refusal(strict, home, 'literal', { authUrl: home.authUrl });
    expect(literal.extensions?.rule).toBe(`resolves to 127.0.0.1, which is loopback; ${CLASSES}`);
    // The same cloud is fine where the operator allowed loopback.
    const cloud = await register(lab, home, 'by-name-allowed', { authUrl: onHost(home.authUrl, 'localhost') });
    await gqlOk(lab.url, tenant.token, DEREGISTER, { id: cloud.id });
  });

  it('CLOUD_ENDPOINT_DENY carves a network out of CLOUD_ENDPOINT_ALLOW: deny wins', async () => {
    const err = await refusal(carved, two, 'denied', {});
    expect(err.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.authUrl',
      rule: 'resolves to 127.0.0.2, which is in CLOUD_ENDPOINT_DENY (127.0.0.2/32); the operator denies that network',
    });
    // The rest of the allowed network still works on that broker.
    const cloud = await register(carved, home, 'carved-ok');
    await gqlOk(carved.url, tenant.token, DEREGISTER, { id: cloud.id });
  });

  it.each([
    ['compute', 'http://169.254.169.254/compute/v2.1', `resolves to 169.254.169.254, which is link-local; ${CLASSES}`],
    ['image', 'http://[fe80::1]:9292/image', `resolves to fe80::1, which is link-local; ${CLASSES}`],
    ['network', 'http://0.0.0.0:9696/network', `resolves to 0.0.0.0, which is unspecified; ${CLASSES}`],
  ] as const)('refuses a cloud whose catalog puts %s on a refused address, naming the service', async (service, url, rule) => {
    await staged.control.setCatalogOverrides({ [service]: url });
    const err = await refusal(lab, staged, `bad-${service}`, {});
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.authUrl', rule: `the catalog's ${service} endpoint ${rule}` });
  });

  it.each([
    ['compute', 'gopher://127.0.0.1:6379/_FLUSHALL', 'must use https'],
    ['image', 'http://admin:secret@127.0.0.1:9292/image', 'must not contain user info'],
    ['network', `http://127.0.0.1:9696/${'n'.repeat(600)}`, 'is longer than 512 characters'],
    ['compute', 'http://127.0.0.1:8774/v2.1\r\nX-Injected: 1', 'contains spaces or control characters'],
  ] as const)('treats catalog URLs as hostile input: %s at %j is refused (%s)', async (service, url, why) => {
    await staged.control.setCatalogOverrides({ [service]: url });
    const err = await refusal(lab, staged, `hostile-${service}`, {});
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.authUrl' });
    expect(err.extensions?.rule).toContain(`the catalog's ${service} endpoint ${why}`);
  });

  it('at run time a catalog endpoint the policy refuses is a non-retryable upstream error naming the service (cloudServers, matchmake)', async () => {
    // Registered where 127.0.0.2 is allowed, used where it is not: the connector checks every connection, not only registration.
    await staged.control.setCatalogOverrides({ compute: two.urls.compute });
    const cloud = await register(lab, staged, 'split-compute');
    expect(cloud.catalog.find((e) => e.type === 'compute')?.url).toBe(two.urls.compute);
    await two.control.resetCalls();

    const err = await gqlError(carved.url, tenant.token, SERVERS, { c: cloud.id });
    expect(err.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    // Failed at once ("failed:", not "failed after N attempts"): asking again changes nothing.
    expect(err.message).toMatch(
      /^cloud split-compute \(.+\): nova GET .+ failed: the compute endpoint resolves to 127\.0\.0\.2, which is in CLOUD_ENDPOINT_DENY \(127\.0\.0\.2\/32\); the operator denies that network$/,
    );
    const calls = await two.control.calls();
    expect(Object.keys(calls).filter((op) => op.startsWith('nova.'))).toEqual([]);

    // The matchmaker's quota question goes through the same door.
    const factory = labCloudApiFactory();
    try {
      const homeId = (await register(lab, home, 'split-home')).id;
      const server = await bootSandboxServer(home, 'split-vm', undefined, factory);
      const { createVmType } = await gqlOk(lab.url, tenant.token, `mutation { createVmType(input: { name: "split", minInstances: 1, maxInstances: 2 }) { id } }`);
      const { importVm } = await gqlOk(lab.url, tenant.token, `mutation($input: ImportVmInput!) { importVm(input: $input) { id } }`, {
        input: { cloudId: homeId, serverId: server.id, vmTypeId: createVmType.id },
      });
      const { matchmake } = await gqlOk(carved.url, tenant.token, `query($v: ID!) { matchmake(vmId: $v) { cloud { id } reasons } }`, { v: importVm.id });
      const candidate = matchmake.find((c: { cloud: { id: string } }) => c.cloud.id === cloud.id);
      expect(candidate.reasons.join(' | ')).toContain('the compute endpoint resolves to 127.0.0.2, which is in CLOUD_ENDPOINT_DENY (127.0.0.2/32)');
    } finally {
      await factory.close();
    }
  });

  it('updateCloud to a refused Keystone URL (with credentials) is refused and changes nothing', async () => {
    const cloud = await register(lab, home, 'moving');
    const err = await gqlError(lab.url, tenant.token, UPDATE, {
      id: cloud.id,
      input: { authUrl: 'http://169.254.169.254/v3', credentials: registerCloudInput(home, 'x').credentials },
    });
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.authUrl' });
    const [row] = await lab.dataSource.query('SELECT auth_url FROM clouds WHERE id = $1', [cloud.id]);
    expect(row.auth_url).toBe(home.authUrl);
  });

  it('follows no redirect: a Keystone that answers 307 to elsewhere gets no second request, and the target none at all', async () => {
    let target: RecordingListener | undefined;
    let redirector: RecordingListener | undefined;
    try {
      target = await startRecordingListener();
      const to = `${target.url}/v3/auth/tokens`;
      redirector = await startRecordingListener((_req, res) => void res.writeHead(307, { location: to }).end());
      const err = await refusal(lab, home, 'redirecting', { authUrl: `${redirector.url}/v3` });
      expect(err.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
      expect(err.message).toContain('HTTP 307');
      expect(redirector.requests).toHaveLength(1);
      expect(target.requests).toEqual([]);
    } finally {
      await target?.close();
      await redirector?.close();
    }
  });
});

