/**
 * A clone between the two real OpenStack clouds through transfer agents: each cloud is
 * registered with its own agent (both started as processes), so TRANSFER reads os-a's real
 * Glance on the source agent, sends the compact chunk stream to the target agent, which rebuilds
 * the snapshot and uploads it to os-b's real Glance. The target Glance's own sha512 must equal
 * the source snapshot's (and the sha512 of the bytes os-b serves), and the clone must boot.
 * Skipped when the peers are not set up here, except under CI (readPeerClouds), as the other
 * real OpenStack tests. Needs dist/ (npm run build).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OpenStackCloudApiFactory } from '../../src/adapters/openstack/openstack-cloud-api.factory';
import { CloudApi, Server } from '../../src/ports/cloud-api.port';
import { AgentProcess, spawnAgent } from '../support/agent-process';
import { startTestBroker, TestBroker } from '../support/broker';
import { waitForJobState } from '../support/clone-fixture';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlOk } from '../support/graphql';
import { LAB_ENDPOINTS } from '../support/lab';
import { PeerCloud, bootSourceServer, readPeerClouds } from '../support/openstack-peers';
import { createTenantWithToken } from '../support/tenants';

const peers = readPeerClouds();
const describeIfPeers = peers ? describe : describe.skip;
if (!peers) console.log('real OpenStack clone through agents skipped: test/peers/openstack/up.sh has not run here');

const SECRET = crypto.randomBytes(32).toString('base64');

function passwordCredentials(c: PeerCloud) {
  return { username: c.username, password: c.password, projectName: c.projectName, userDomainName: c.userDomainName, projectDomainName: c.projectDomainName };
}

describeIfPeers('clone between two real OpenStack clouds through transfer agents', () => {
  jest.setTimeout(600_000);
  let db: TestDatabase;
  let broker: TestBroker;
  let factory: OpenStackCloudApiFactory;
  let source: PeerCloud;
  let target: PeerCloud;
  let srcApi: CloudApi;
  let dstApi: CloudApi;
  let agents: AgentProcess[] = [];
  let work: string;
  let server: Server | null = null;
  let jobId: string | null = null;

  beforeAll(async () => {
    source = peers!.find((c) => c.qemuAvailabilityZone)!;
    target = peers!.find((c) => c !== source)!;
    factory = new OpenStackCloudApiFactory({ endpoints: LAB_ENDPOINTS });
    const connection = (c: PeerCloud) => ({ cloudId: null, name: c.name, authUrl: c.authUrl, region: c.region, credentials: { kind: 'PASSWORD' as const, ...passwordCredentials(c) }, pinnedCatalog: null });
    srcApi = factory.forConnection(connection(source));
    dstApi = factory.forConnection(connection(target));
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'os-clone-agents-'));
    agents = await Promise.all([spawnAgent(SECRET, path.join(work, 'src')), spawnAgent(SECRET, path.join(work, 'dst'))]);
    db = await createTestDatabase();
    broker = await startTestBroker(db.url, { AGENT_SHARED_SECRET: SECRET, AGENT_CACHE_DIR: path.join(work, 'broker-chunks') });
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
    await Promise.all(agents.map((a) => a.crash()));
    await broker?.stop();
    await db?.drop();
    await factory?.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('clones a running server from os-a into os-b, the chunks going agent to agent, with the source sha512 and a booted clone', async () => {
    const url = broker.url;
    const { token } = await createTenantWithToken(url, broker.adminToken, 'real-openstack-agents');
    const register = async (c: PeerCloud, agent: AgentProcess, defaults: Record<string, string>) =>
      (
        await gqlOk(url, token, `mutation($input: RegisterCloudInput!) { registerCloud(input: $input) { id health transferAgentUrl } }`, {
          input: { name: c.name, authUrl: c.authUrl, region: c.region, credentials: passwordCredentials(c), bandwidthMbps: 1000, costPerHour: 0.1, defaults, transferAgentUrl: agent.url },
        })
      ).registerCloud;
    const src = await register(source, agents[0], {});
    const dst = await register(target, agents[1], { flavor: target.flavorName, network: 'private', floatingNetwork: 'public' });
    expect([src.health, dst.health]).toEqual(['HEALTHY', 'HEALTHY']);
    expect([src.transferAgentUrl, dst.transferAgentUrl]).toEqual([agents[0].url, agents[1].url]);
    const { createVmType } = await gqlOk(url, token, `mutation { createVmType(input: { name: "opensips", minInstances: 1, maxInstances: 3 }) { id } }`);

    const s = await bootSourceServer(srcApi, source, 'icb-agents', (created) => (server = created));
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

    // The source snapshot's os_hash_value (recorded on the target image when it was made) is the
    // target Glance's own sha512 of what the target agent uploaded, and of the bytes os-b serves.
    const images = await dstApi.listImages({ properties: { intercloud_job: job.id } });
    expect(images.length).toBe(1);
    const [image] = images;
    expect(image.status).toBe('active');
    expect(image.hashValue).toMatch(/^[0-9a-f]{128}$/);
    expect(image.properties.intercloud_source_hash).toBe(image.hashValue);
    const { stream } = await dstApi.downloadImage(image.id);
    const sha512 = crypto.createHash('sha512');
    let bytes = 0;
    for await (const piece of stream) {
      sha512.update(piece as Buffer);
      bytes += (piece as Buffer).length;
    }
    expect(sha512.digest('hex')).toBe(image.hashValue);
    expect(bytes).toBe(job.bytesTotal);

    // The chunks went through the agents: the target agent stored them, the source agent and the broker stored none.
    expect(agents[1].storedChunks()).toBeGreaterThan(0);
    expect(agents[0].storedChunks()).toBe(0);
    const rows: unknown = await broker.dataSource.query(`SELECT payload FROM events WHERE stream = $1 AND payload->>'kind' = 'PROGRESS' ORDER BY seq`, [`clone-job:${job.id}`]);
    const transfer = (rows as Array<{ payload: { transfer?: Record<string, number> } }>).map((r) => r.payload.transfer).filter(Boolean);
    expect(transfer.length).toBeGreaterThan(0);
    const last = transfer[transfer.length - 1]!;
    expect(last.linkBytes).toBeGreaterThan(0);
    expect(last.linkBytes).toBeLessThanOrEqual(job.bytesTotal + job.bytesTotal / 1000 + 1024);

    // The clone boots in os-b, with its floating IP.
    const servers = (await dstApi.listServers()).filter((x) => x.metadata.intercloud_job === job.id);
    expect(servers.map((x) => [x.id, x.status, x.imageId])).toEqual([[job.resultVm.serverId, 'ACTIVE', image.id]]);
    expect(job.resultVm.addresses.map((a: { kind: string }) => a.kind)).toContain('floating');
    expect(await srcApi.listImages({ properties: { intercloud_job: job.id } })).toEqual([]);
    console.log(
      `real OpenStack clone through agents: ${job.bytesTotal} image bytes, ${last.linkBytes} on the link (zero ${last.zeroBytes}, dedup ${last.dedupBytes}), phases ${job.phases
        .map((p: { phase: string; durationMs: number }) => `${p.phase}=${p.durationMs}ms`)
        .join(' ')}`,
    );
  });
});
