/**
 * The OpenStack adapter against the sandbox: the CloudApi contract (which also runs against real
 * OpenStack), then what only the sandbox can stage: injected faults and retries, hangs and
 * timeouts, token expiry and revocation, ambiguous creates, and a cloud older than compute 2.45.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Sandbox, SandboxCloud } from '../../sandbox';
import type { CloudTransport } from '../../src/adapters/openstack/cloud-transport';
import { type HttpPolicy, NO_ANSWER } from '../../src/adapters/openstack/http.client';
import { lastPathSegment } from '../../src/adapters/openstack/nova.adapter';
import { OpenStackCloudApiFactory } from '../../src/adapters/openstack/openstack-cloud-api.factory';
import { ConflictError, NotFoundError, ServerBusyError, UpstreamUnavailableError } from '../../src/domain/errors';
import type { CloudConnection } from '../../src/ports/cloud-connector.port';
import { LAB_ENDPOINTS, labTransport } from '../support/lab';
import { startTestSandbox } from '../sandbox/sandbox-test-kit';
import { describeCloudApiContract, eventually } from './cloud-api.contract';

function passwordConnection(cloud: SandboxCloud, cloudId: string | null = randomUUID()): CloudConnection {
  const p = cloud.credentials.password;
  return {
    cloudId,
    name: cloud.name,
    authUrl: cloud.authUrl,
    region: cloud.region,
    pinnedCatalog: null,
    credentials: { kind: 'PASSWORD', username: p.username, password: p.password, projectName: p.projectName, userDomainName: p.userDomainName, projectDomainName: p.projectDomainName },
  };
}

function applicationCredentialConnection(cloud: SandboxCloud, cloudId: string | null = randomUUID()): CloudConnection {
  const ac = cloud.credentials.applicationCredential;
  return {
    cloudId,
    name: cloud.name,
    authUrl: cloud.authUrl,
    region: cloud.region,
    pinnedCatalog: null,
    credentials: { kind: 'APPLICATION_CREDENTIAL', applicationCredentialId: ac.applicationCredentialId, applicationCredentialSecret: ac.applicationCredentialSecret },
  };
}

async function seededImageId(cloud: SandboxCloud): Promise<string> {
  const image = (await cloud.control.listImages()).find((i) => i.name === 'cirros-sandbox' && i.status === 'active');
  if (!image) throw new Error(`sandbox cloud ${cloud.name} has no active cirros-sandbox image`);
  return image.id;
}

/** Backoff in milliseconds rather than seconds: the retries are real, the waiting is not the point. */
const QUICK: Partial<HttpPolicy> = { backoffBaseMs: 5, backoffCapMs: 20 };

describeCloudApiContract('sandbox', async () => {
  const sandbox = await startTestSandbox([{ name: 'contract-a' }, { name: 'contract-b' }]);
  const a = sandbox.cloud('contract-a');
  const b = sandbox.cloud('contract-b');
  const factory = new OpenStackCloudApiFactory({ policy: QUICK, endpoints: LAB_ENDPOINTS });
  const info = await a.control.info();
  return {
    api: factory.forConnection(passwordConnection(a)),
    applicationCredentialApi: factory.forConnection(applicationCredentialConnection(a)),
    targetApi: factory.forConnection(passwordConnection(b)),
    fixtures: { imageId: await seededImageId(a), flavorId: '1', networkId: info.networks.private.id, externalNetworkId: info.networks.public.id, availabilityZone: 'nova' },
    patienceMs: 20_000,
    pollMs: 20,
    teardown: async () => {
      await factory.close();
      await sandbox.stop();
    },
  };
});

describe('OpenStack adapter, sandbox only: faults, timeouts, tokens, older clouds', () => {
  let sandbox: Sandbox;
  let cloud: SandboxCloud;
  let old: SandboxCloud;
  let transport: CloudTransport;
  let factory: OpenStackCloudApiFactory;
  /** Short timeouts, for the hang tests only (a loaded machine must not fail the others). */
  let impatient: OpenStackCloudApiFactory;
  let cloudId: string;
  let imageId: string;
  let privateNet: string;
  const calls = async (op: string): Promise<number> => ((await cloud.control.calls()) as Record<string, number>)[op] ?? 0;

  beforeAll(async () => {
    sandbox = await startTestSandbox([{ name: 'faulty' }, { name: 'old', maxComputeMicroversion: '2.44' }]);
    cloud = sandbox.cloud('faulty');
    old = sandbox.cloud('old');
    transport = labTransport();
    factory = new OpenStackCloudApiFactory({ policy: QUICK, transport });
    impatient = new OpenStackCloudApiFactory({ policy: { ...QUICK, timeoutMs: 300, streamIdleTimeoutMs: 300 }, transport });
    cloudId = randomUUID();
    imageId = await seededImageId(cloud);
    privateNet = (await cloud.control.info()).networks.private.id;
  });

  afterEach(async () => {
    await cloud.control.clearFaults();
    await cloud.control.setTokenLifetime(3600);
  });

  afterAll(async () => {
    await impatient?.close();
    await factory?.close();
    await transport?.close();
    await sandbox?.stop();
  });

  const api = () => factory.forConnection(passwordConnection(cloud, cloudId));

  it('the factory keeps one instance per cloud and connection, and a new one for new credentials', () => {
    const connection = passwordConnection(cloud, cloudId);
    expect(factory.forConnection(connection)).toBe(factory.forConnection({ ...connection, credentials: { ...connection.credentials } }));
    const rotated = { ...connection, credentials: { ...connection.credentials, password: 'rotated' } };
    const replaced = factory.forConnection(rotated);
    expect(replaced).not.toBe(factory.forConnection(connection));
    expect(factory.forConnection(applicationCredentialConnection(cloud, cloudId))).not.toBe(factory.forConnection(connection));
  });

  it('retries 503s, dropped connections and a hang, then succeeds', async () => {
    await cloud.control.resetCalls();
    await cloud.control.injectFault({ operation: 'nova.flavor.list', mode: 'fail', status: 503, count: 2 });
    expect((await api().listFlavors()).length).toBeGreaterThan(0);
    expect(await calls('nova.flavor.list')).toBe(3);

    await cloud.control.injectFault({ operation: 'neutron.network.list', mode: 'abort', count: 2 });
    expect((await api().listNetworks()).map((n) => n.id)).toContain(privateNet);
    expect(await calls('neutron.network.list')).toBe(3);

    const hasty = impatient.forConnection(passwordConnection(cloud, cloudId));
    await cloud.control.injectFault({ operation: 'glance.image.show', mode: 'hang', count: 1 });
    expect(await hasty.getImage(imageId)).toMatchObject({ id: imageId, status: 'active' });
    expect(await calls('glance.image.show')).toBe(2);
  });

  it('a permanent 503 ends in one UpstreamUnavailableError naming the cloud, the service and the operation', async () => {
    await cloud.control.resetCalls();
    await cloud.control.injectFault({ operation: 'glance.image.show', mode: 'fail', status: 503, count: 'always' });
    const err = await api().getImage(imageId).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect((err as Error).message).toMatch(new RegExp(`^cloud faulty \\(${cloudId}\\): glance GET /v2/images/\\{id\\} failed after 4 attempts: HTTP 503`));
    expect((err as UpstreamUnavailableError).details).toMatchObject({ cloudId, service: 'glance', status: 503, attempts: 4, retryable: true });
    expect(await calls('glance.image.show')).toBe(4);
  });

  it('a call that hangs times out; after the bounded attempts the error says so (in the words every connection failure uses), the cause kept for the log', async () => {
    const escaped = NO_ANSWER.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await cloud.control.injectFault({ operation: 'neutron.network.list', mode: 'hang', count: 'always' });
    const err = await impatient.forConnection(passwordConnection(cloud, cloudId)).listNetworks().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect((err as Error).message).toMatch(new RegExp(`^cloud faulty \\(.+\\): neutron GET /v2\\.0/networks failed: ${escaped}$`));
    expect((err as UpstreamUnavailableError).details).toMatchObject({ attempts: 4, detail: expect.stringMatching(/timed out after 300 ms.*after 4 attempts/) });

    // Transfers have no overall deadline, only idle timeouts: a silent Glance still ends in an error.
    const hasty = impatient.forConnection(passwordConnection(cloud, cloudId));
    await cloud.control.injectFault({ operation: 'glance.image.download', mode: 'hang', count: 'always' });
    const download = await hasty.downloadImage(imageId).catch((e: unknown) => e);
    expect((download as Error).message).toMatch(new RegExp(`glance GET /v2/images/\\{id\\}/file failed: ${escaped}$`));
    expect((download as UpstreamUnavailableError).details).toMatchObject({ attempts: 4, detail: expect.stringMatching(/timed out: no response within 300 ms/) });
    const queued = await hasty.createImage({ name: 'hang-upload', diskFormat: 'raw', containerFormat: 'bare', properties: {} });
    await cloud.control.injectFault({ operation: 'glance.image.upload', mode: 'hang', count: 'always' });
    const upload = await hasty.uploadImage(queued.id, Readable.from([Buffer.alloc(1024)]), 1024).catch((e: unknown) => e);
    expect((upload as Error).message).toMatch(new RegExp(`glance PUT /v2/images/\\{id\\}/file failed: ${escaped}$`));
    expect((upload as UpstreamUnavailableError).details).toMatchObject({ attempts: 1, detail: expect.stringMatching(/timed out: no response within 300 ms/) });
    await cloud.control.clearFaults();
    await hasty.deleteImage(queued.id);
  });

  it('refusals (4xx) are not retried', async () => {
    await cloud.control.resetCalls();
    await cloud.control.injectFault({ operation: 'nova.limits', mode: 'fail', status: 403, count: 1 });
    const err = await api().getLimits().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect((err as Error).message).toMatch(/nova GET \/limits failed: HTTP 403/);
    expect((err as UpstreamUnavailableError).details).toMatchObject({ status: 403, retryable: false });
    expect(await calls('nova.limits')).toBe(1);
  });

  it('creates that fail ambiguously (5xx) look for what they may have made before asking again, and never duplicate', async () => {
    const cloudApi = api();
    const name = `ambiguous-${randomUUID().slice(0, 8)}`;
    const tag = { intercloud_job: name };
    await cloud.control.resetCalls();
    await cloud.control.injectFault({ operation: 'nova.server.create', mode: 'fail', status: 500, count: 1 });
    const server = await cloudApi.createServer({ name, imageId, flavorId: '1', networks: [privateNet], metadata: tag });
    expect(await calls('nova.server.create')).toBe(2);
    expect(await calls('nova.server.list')).toBe(1); // the look before the second POST
    expect((await cloud.control.listServers()).filter((s) => s.name === name).map((s) => s.id)).toEqual([server.id]);

    await cloud.control.injectFault({ operation: 'glance.image.create', mode: 'fail', status: 503, count: 1 });
    const image = await cloudApi.createImage({ name, diskFormat: 'raw', containerFormat: 'bare', properties: tag });
    expect((await cloud.control.listImages()).filter((i) => i.name === name).map((i) => i.id)).toEqual([image.id]);

    await eventually('server ACTIVE', async () => ((await cloudApi.getServer(server.id))?.status === 'ACTIVE' ? true : undefined), 20_000, 20);
    const [port] = await cloudApi.listPorts(server.id);
    const publicNet = (await cloud.control.info()).networks.public.id;
    await cloud.control.injectFault({ operation: 'neutron.floatingip.create', mode: 'abort', count: 1 });
    const fip = await cloudApi.createFloatingIp(publicNet, port!.id);
    expect((await cloudApi.listFloatingIps({ portId: port!.id })).map((f) => f.id)).toEqual([fip.id]);

    // 409 while the server is busy: nothing was made, and it is not asked again here (another snapshot takes
    // minutes): a retryable ServerBusyError, for the caller to wait on the server's task state (snapshot.step.ts).
    await cloud.control.resetCalls();
    await cloud.control.injectFault({ operation: 'nova.server.createImage', mode: 'fail', status: 409, count: 1 });
    const busy = await cloudApi.createServerImage(server.id, `${name}-snap`, tag).catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(ServerBusyError);
    expect(busy).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', details: { status: 409, retryable: true, busy: true } });
    expect(await calls('nova.server.createImage')).toBe(1);
    expect((await cloud.control.listImages()).filter((i) => i.properties.instance_uuid === server.id)).toEqual([]);
    const snapshotId = await cloudApi.createServerImage(server.id, `${name}-snap`, tag);
    expect(await calls('nova.server.createImage')).toBe(2);
    expect((await cloud.control.listImages()).filter((i) => i.properties.instance_uuid === server.id).map((i) => i.id)).toEqual([snapshotId]);

    await cloudApi.deleteFloatingIp(fip.id);
    await cloudApi.deleteServer(server.id);
    await cloudApi.deleteImage(image.id);
    await cloudApi.deleteImage(snapshotId);
  });

  it('a create without idempotency tags is not repeated after an ambiguous failure', async () => {
    await cloud.control.resetCalls();
    await cloud.control.injectFault({ operation: 'nova.server.create', mode: 'fail', status: 500, count: 1 });
    const err = await api()
      .createServer({ name: `untagged-${randomUUID().slice(0, 8)}`, imageId, flavorId: '1', networks: 'none', metadata: {} })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect((err as Error).message).toMatch(/nova POST \/servers failed after 1 attempt \(not retried, it may have been carried out\): HTTP 500/);
    expect(await calls('nova.server.create')).toBe(1);
  });

  it('renews a token that expired and one the cloud revoked (401), transparently', async () => {
    const cloudApi = factory.forConnection(passwordConnection(cloud, randomUUID()));
    await cloud.control.setTokenLifetime(1);
    await cloud.control.resetCalls();
    await cloudApi.listFlavors();
    expect(await calls('keystone.token')).toBe(1);
    await new Promise((r) => setTimeout(r, 1100)); // the token's whole lifetime
    await cloudApi.listFlavors();
    expect(await calls('keystone.token')).toBe(2);

    await cloud.control.setTokenLifetime(3600);
    await cloudApi.listFlavors(); // may renew (the last token was short-lived); the count is taken after
    const before = await calls('keystone.token');
    await cloud.control.revokeTokens();
    expect((await cloudApi.listNetworks()).length).toBeGreaterThan(0);
    expect(await calls('keystone.token')).toBe(before + 1);
  });

  it('stored credentials the cloud no longer accepts are an upstream problem, not user input', async () => {
    const connection = passwordConnection(cloud, randomUUID());
    const broken = { ...connection, credentials: { ...connection.credentials, password: 'not-any-more' } } as CloudConnection;
    const err = await factory.forConnection(broken).listFlavors().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect((err as Error).message).toMatch(/^cloud faulty \(.+\): keystone POST \/auth\/tokens: credentials rejected/);
    expect((err as UpstreamUnavailableError).details).toMatchObject({ retryable: false });
  });

  it('image transfers are tried once: a refused upload and a cut download fail, and free their streams', async () => {
    const cloudApi = api();
    const image = await cloudApi.createImage({ name: 'transfer', diskFormat: 'raw', containerFormat: 'bare', properties: {} });
    await cloud.control.resetCalls();
    await cloud.control.injectFault({ operation: 'glance.image.upload', mode: 'fail', status: 503, count: 1 });
    const source = Readable.from([Buffer.alloc(64 * 1024, 1)]);
    const err = await cloudApi.uploadImage(image.id, source, 64 * 1024).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect((err as Error).message).toMatch(/glance PUT \/v2\/images\/\{id\}\/file failed after 1 attempt: HTTP 503/);
    expect(source.destroyed).toBe(true);
    expect(await calls('glance.image.upload')).toBe(1);

    // The image is still queued: the pipeline's retry of the whole transfer works.
    await cloudApi.uploadImage(image.id, Readable.from([Buffer.alloc(64 * 1024, 1)]), 64 * 1024);
    expect(await cloudApi.getImage(image.id)).toMatchObject({ status: 'active', size: 64 * 1024 });

    await cloud.control.injectFault({ operation: 'glance.image.download', mode: 'abort', afterBytes: 1000, count: 1 });
    const cut = await cloudApi.downloadImage(imageId);
    await expect((async () => {
      for await (const chunk of cut.stream) void chunk;
    })()).rejects.toThrow();
    expect(await calls('glance.image.download')).toBe(1);

    const queued = await cloudApi.createImage({ name: 'no-data', diskFormat: 'raw', containerFormat: 'bare', properties: {} });
    await expect(cloudApi.downloadImage(queued.id)).rejects.toBeInstanceOf(ConflictError);
    await expect(cloudApi.downloadImage(randomUUID())).rejects.toBeInstanceOf(NotFoundError);
    await expect(cloudApi.uploadImage(randomUUID(), Readable.from([Buffer.from('x')]), 1)).rejects.toBeInstanceOf(NotFoundError);
    await cloudApi.deleteImage(image.id);
    await cloudApi.deleteImage(queued.id);
  });

  it('a cloud older than compute 2.45 names the snapshot only in Location: the id is its last path segment', async () => {
    expect(lastPathSegment('http://127.0.0.1:9292//images/6d1a3c04-1111-2222-3333-444455556666')).toBe('6d1a3c04-1111-2222-3333-444455556666');
    const oldApi = factory.forConnection(passwordConnection(old));
    expect(await oldApi.computeMicroversion()).toBe('2.44');
    const info = await old.control.info();
    const created = await oldApi.createServer({ name: 'old-cloud', imageId: await seededImageId(old), flavorId: '1', networks: [info.networks.private.id], metadata: { intercloud_job: 'old' } });
    const server = await eventually('server ACTIVE', async () => {
      const s = await oldApi.getServer(created.id);
      return s?.status === 'ACTIVE' ? s : undefined;
    }, 20_000, 20);
    expect(server.flavorId).toBe('1'); // before 2.47 the server names its flavor by id
    const snapshotId = await oldApi.createServerImage(server.id, 'old-snapshot', { intercloud_job: 'old' });
    const image = await eventually('snapshot active', async () => {
      const i = await oldApi.getImage(snapshotId);
      return i?.status === 'active' ? i : undefined;
    }, 20_000, 20);
    expect(image.properties).toMatchObject({ instance_uuid: server.id, intercloud_job: 'old' });
    await oldApi.deleteServer(server.id);
    await oldApi.deleteImage(snapshotId);
  });

  it('leaves no request running on any connection', () => {
    for (const [origin, stats] of Object.entries(transport.dispatcher.stats)) {
      expect({ origin, running: stats.running, pending: stats.pending }).toEqual({ origin, running: 0, pending: 0 });
    }
  });
});
