/**
 * The whole product on real OpenStack: register the two peer clouds through GraphQL, import a
 * server booted in os-a's QEMU zone (whose snapshots hold real bytes), clone it into os-b and
 * watch it get there; then check os-b holds the same bytes and a running server with a
 * floating IP. Skipped when the peers are not set up here, except under CI.
 */
import { OpenStackCloudApiFactory } from '../../src/adapters/openstack/openstack-cloud-api.factory';
import { CloudApi, Server } from '../../src/ports/cloud-api.port';
import { startTestBroker, TestBroker } from '../support/broker';
import { waitForJobState } from '../support/clone-fixture';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlOk } from '../support/graphql';
import { LAB_ENDPOINTS } from '../support/lab';
import { PeerCloud, bootSourceServer, readPeerClouds } from '../support/openstack-peers';
import { createTenantWithToken } from '../support/tenants';

const peers = readPeerClouds();
const describeIfPeers = peers ? describe : describe.skip;
if (!peers) console.log('real OpenStack clone skipped: test/peers/openstack/up.sh has not run here');

function passwordCredentials(c: PeerCloud) {
  return { username: c.username, password: c.password, projectName: c.projectName, userDomainName: c.userDomainName, projectDomainName: c.projectDomainName };
}

describeIfPeers('clone between two real OpenStack clouds', () => {
  jest.setTimeout(600_000);
  let db: TestDatabase;
  let broker: TestBroker;
  let factory: OpenStackCloudApiFactory;
  let source: PeerCloud;
  let target: PeerCloud;
  let srcApi: CloudApi;
  let dstApi: CloudApi;
  let server: Server | null = null;
  let jobId: string | null = null;

  beforeAll(async () => {
    source = peers!.find((c) => c.qemuAvailabilityZone)!;
    target = peers!.find((c) => c !== source)!;
    // The peers listen on plain HTTP on 127.0.0.1: the lab endpoint settings, for our own client and (startTestBroker's default) the broker.
    factory = new OpenStackCloudApiFactory({ endpoints: LAB_ENDPOINTS });
    const connection = (c: PeerCloud) => ({ cloudId: null, name: c.name, authUrl: c.authUrl, region: c.region, credentials: { kind: 'PASSWORD' as const, ...passwordCredentials(c) }, pinnedCatalog: null });
    srcApi = factory.forConnection(connection(source));
    dstApi = factory.forConnection(connection(target));
    db = await createTestDatabase();
    broker = await startTestBroker(db.url);
  });

  afterAll(async () => {
    // Leave the shared clouds as we found them, whatever happened.
    const leftovers = async (api: CloudApi) => {
      if (!jobId) return;
      for (const s of (await api.listServers()).filter((x) => x.metadata.intercloud_job === jobId)) await api.deleteServer(s.id);
      for (const i of await api.listImages({ properties: { intercloud_job: jobId } })) await api.deleteImage(i.id);
      for (const f of await api.listFloatingIps()) if (!f.portId) await api.deleteFloatingIp(f.id).catch(() => undefined);
    };
    await leftovers(dstApi).catch(() => undefined);
    await leftovers(srcApi).catch(() => undefined);
    if (server) await srcApi.deleteServer(server.id).catch(() => undefined);
    await broker?.stop();
    await db?.drop();
    await factory?.close();
  });

  it('clones a running server from os-a into os-b through the GraphQL API', async () => {
    const url = broker.url;
    const { token } = await createTenantWithToken(url, broker.adminToken, 'real-openstack');
    const register = async (c: PeerCloud, defaults: Record<string, string>) =>
      (
        await gqlOk(url, token, `mutation($input: RegisterCloudInput!) { registerCloud(input: $input) { id health } }`, {
          input: { name: c.name, authUrl: c.authUrl, region: c.region, credentials: passwordCredentials(c), bandwidthMbps: 1000, costPerHour: 0.1, defaults },
        })
      ).registerCloud;
    const src = await register(source, {});
    const dst = await register(target, { flavor: target.flavorName, network: 'private', floatingNetwork: 'public' });
    expect([src.health, dst.health]).toEqual(['HEALTHY', 'HEALTHY']);
    const { createVmType } = await gqlOk(url, token, `mutation { createVmType(input: { name: "opensips", minInstances: 1, maxInstances: 3 }) { id } }`);

    const s = await bootSourceServer(srcApi, source, 'icb-real', (created) => (server = created));
    const { importVm } = await gqlOk(url, token, `mutation($input: ImportVmInput!) { importVm(input: $input) { id } }`, {
      input: { cloudId: src.id, serverId: s.id, vmTypeId: createVmType.id },
    });

    const { cloneVm } = await gqlOk(url, token, `mutation($input: CloneVmInput!) { cloneVm(input: $input) { id } }`, { input: { vmId: importVm.id, targetCloudId: dst.id } });
    jobId = cloneVm.id;
    const job = await waitForJobState(url, token, cloneVm.id, ['DONE', 'FAILED'], 540_000);
    expect(job.error).toBeNull();
    expect(job.state).toBe('DONE');
    expect(job.phases.map((p: { phase: string }) => p.phase)).toEqual(['SNAPSHOT', 'TRANSFER', 'IMPORT', 'BOOT', 'NETWORK']);
    expect(job.bytesTransferred).toBe(job.bytesTotal);
    expect(job.bytesTotal).toBeGreaterThan(0);

    const images = await dstApi.listImages({ properties: { intercloud_job: job.id } });
    expect(images.length).toBe(1);
    expect(images[0].status).toBe('active');
    expect(images[0].properties.intercloud_source_hash).toBe(images[0].hashValue);
    const servers = (await dstApi.listServers()).filter((x) => x.metadata.intercloud_job === job.id);
    expect(servers.map((x) => [x.id, x.status])).toEqual([[job.resultVm.serverId, 'ACTIVE']]);
    expect(job.resultVm.addresses.map((a: { kind: string }) => a.kind)).toContain('floating');
    expect(await srcApi.listImages({ properties: { intercloud_job: job.id } })).toEqual([]);
    console.log(`real OpenStack clone: ${job.bytesTotal} bytes, phases ${job.phases.map((p: { phase: string; durationMs: number }) => `${p.phase}=${p.durationMs}ms`).join(' ')}`);
  });
});
