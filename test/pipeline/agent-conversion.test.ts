/**
 * Format conversion by the target cloud's transfer agent: a qcow2 source cloned into a cloud whose
 * Glance takes only raw, both clouds naming transfer agents started as processes. The chunks go to
 * the target agent, which rebuilds the image in its own spool, converts it with qemu-img and
 * uploads the raw image; the broker never spools (its TRANSFER_SPOOL_DIR stays unmade), the job's
 * events say the target agent converted and where it spooled, IMPORT checks the target Glance's
 * sha512 against the one the agent reported, and the target's Nova (which checks an image's
 * bytes against its disk_format) boots the result. The agent's endpoint takes only this job's
 * token, for this job's Glance URL; a spool without room fails the job SPOOL_SPACE and undoes.
 * Needs dist/ (npm run build) and qemu-img (Debian: qemu-utils).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { request } from 'undici';
import { Sandbox } from '../../sandbox';
import { OpenStackCloudApiFactory } from '../../src/adapters/openstack/openstack-cloud-api.factory';
import { CloudApi } from '../../src/ports/cloud-api.port';
import { signJobToken } from '../../src/transfer/job-token';
import { AgentProcess, spawnAgent } from '../support/agent-process';
import { startTestBroker, TestBroker } from '../support/broker';
import { CloneFixture, setUpClone, waitForJobState } from '../support/clone-fixture';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlOk } from '../support/graphql';
import { labCloudApiFactory, sandboxApi, startSandboxClouds } from '../support/sandbox';
import { download, makeDisk } from '../support/disk-images';

jest.setTimeout(300_000);

const MiB = 1024 * 1024;
const SECRET = crypto.randomBytes(32).toString('base64');

interface AgentConversionLab {
  sandbox: Sandbox;
  factory: OpenStackCloudApiFactory;
  db: TestDatabase;
  pg: Client;
  broker: TestBroker;
  fx: CloneFixture;
  dst: CloudApi;
  agents: AgentProcess[];
  /** The broker's own spool (it must never be made) and the target agent's. */
  brokerSpool: string;
  agentSpool: string;
  raw: Buffer;
  qcow2ImageId: string;
  dispose(): Promise<void>;
}

/** Source cloud with a qcow2 image; raw-only target cloud; both with an agent process. */
async function startLab(name: string, targetAgentEnv: Record<string, string> = {}): Promise<AgentConversionLab> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `intercloud-${name}-`));
  const brokerSpool = path.join(work, 'broker-spool');
  const agentSpool = path.join(work, 'dst-spool');
  const sandbox = await startSandboxClouds(`${name}-src`, { name: `${name}-dst`, diskFormats: ['raw'] });
  const factory = labCloudApiFactory();
  const db = await createTestDatabase();
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  const broker = await startTestBroker(db.url, { CLONE_STEP_ATTEMPTS: '2', TRANSFER_SPOOL_DIR: brokerSpool, AGENT_SHARED_SECRET: SECRET, AGENT_CACHE_DIR: path.join(work, 'broker-chunks') });
  const agents = await Promise.all([spawnAgent(SECRET, path.join(work, 'src')), spawnAgent(SECRET, path.join(work, 'dst'), 60_000, { AGENT_SPOOL_DIR: agentSpool, ...targetAgentEnv })]);
  const fx = await setUpClone(broker.url, broker.adminToken, sandbox, factory, `${name}-src`, `${name}-dst`);
  await gqlOk(broker.url, fx.tenant.token, `mutation($id: ID!) { updateCloud(id: $id, input: { diskFormats: ["raw"] }) { id } }`, { id: fx.targetCloudId });
  for (const [id, agent] of [
    [fx.sourceCloudId, agents[0]],
    [fx.targetCloudId, agents[1]],
  ] as const) {
    await gqlOk(broker.url, fx.tenant.token, `mutation($id: ID!, $url: String!) { updateCloud(id: $id, input: { transferAgentUrl: $url }) { id } }`, { id, url: agent.url });
  }
  const { raw, qcow2File } = makeDisk(work);
  const seeded = await sandbox.cloud(`${name}-src`).control.seedImage({ name: 'sip-qcow2', file: qcow2File, diskFormat: 'qcow2' });
  return {
    sandbox,
    factory,
    db,
    pg,
    broker,
    fx,
    dst: sandboxApi(factory, sandbox.cloud(`${name}-dst`)),
    agents,
    brokerSpool,
    agentSpool,
    raw,
    qcow2ImageId: seeded.id,
    async dispose() {
      await Promise.all(agents.map((a) => a.crash()));
      await broker.stop();
      await pg.end();
      await db.drop();
      await factory.close();
      await sandbox.stop();
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
}

async function cloneInto(lab: AgentConversionLab): Promise<Record<string, any>> {
  const { vmId } = await lab.fx.importNewVm(undefined, lab.qcow2ImageId);
  const { cloneVm } = await gqlOk(lab.broker.url, lab.fx.tenant.token, `mutation($input: CloneVmInput!) { cloneVm(input: $input) { id } }`, {
    input: { vmId, targetCloudId: lab.fx.targetCloudId },
  });
  return waitForJobState(lab.broker.url, lab.fx.tenant.token, cloneVm.id, ['DONE', 'FAILED'], 180_000);
}

async function events(lab: AgentConversionLab, jobId: string): Promise<Array<{ kind: string; message: string | null; transfer?: Record<string, number> }>> {
  const { rows } = await lab.pg.query<{ payload: { kind: string; message: string | null } }>(`SELECT payload FROM events WHERE stream = $1 ORDER BY seq`, [`clone-job:${jobId}`]);
  return rows.map((r) => r.payload);
}

const entries = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir) : []);
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('disk format conversion by the target agent: qcow2 into a raw-only cloud', () => {
  let lab: AgentConversionLab;
  beforeAll(async () => {
    lab = await startLab('aconv');
  });
  afterAll(async () => {
    await lab?.dispose();
  });

  it('sends chunks to the target agent, which converts qcow2 -> raw in its spool; the raw image holds the same disk and boots', async () => {
    const job = await cloneInto(lab);
    expect(job.error).toBeNull();
    expect(job.state).toBe('DONE');

    const [image, ...more] = await lab.dst.listImages({ properties: { intercloud_job: job.id } });
    expect(more).toEqual([]);
    expect(image).toMatchObject({ status: 'active', diskFormat: 'raw' });
    // The raw image is the qcow2's virtual disk, byte for byte (Glance's own sha512 agrees).
    const bytes = await download(lab.dst, image.id);
    expect(bytes.equals(lab.raw)).toBe(true);
    expect(image.hashValue).toBe(crypto.createHash('sha512').update(lab.raw).digest('hex'));
    // The target's Nova checked the bytes against disk_format raw and booted it.
    const server = await lab.dst.getServer(job.resultVm.serverId);
    expect(server).toMatchObject({ status: 'ACTIVE', imageId: image.id });

    // The agents carried it: chunks in the target agent's store, none in the source agent's, and the broker never spooled.
    expect(lab.agents[1].storedChunks()).toBeGreaterThan(0);
    expect(lab.agents[0].storedChunks()).toBe(0);
    expect(fs.existsSync(lab.brokerSpool)).toBe(false);
    const said = await events(lab, job.id);
    const messages = said.map((e) => e.message).filter((m): m is string => m !== null);
    const agent = escape(lab.agents[1].url);
    const spool = escape(path.join(lab.agentSpool, `job-${job.id}`));
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^sending the qcow2 image in chunks to the target agent ${agent}, which converts it to raw$`)),
        expect.stringMatching(new RegExp(`^target agent ${agent} converting qcow2 -> raw \\(spool .* in ${spool}\\)$`)),
        expect.stringMatching(new RegExp(`^target agent ${agent} converting qcow2 -> raw with qemu-img \\(virtual size 16 MiB\\)$`)),
        expect.stringMatching(new RegExp(`^target agent ${agent} converted qcow2 -> raw in .* s: uploading 16 MiB as raw$`)),
      ]),
    );
    const progress = said.filter((e) => e.kind === 'PROGRESS' && e.transfer);
    expect(progress[progress.length - 1].transfer).toMatchObject({ linkBytes: expect.any(Number), zeroBytes: expect.any(Number) });
    expect(progress[progress.length - 1].transfer!.linkBytes).toBeGreaterThan(0);
    // The agent's spool is gone once the job is done.
    expect(entries(lab.agentSpool)).toEqual([]);
  });

  it('the convert endpoint takes only a target token of this job, for the Glance URL it names', async () => {
    const base = lab.agents[1].url;
    const exp = Math.floor(Date.now() / 1000) + 60;
    const glance = 'http://127.0.0.1:9/v2/images/00000000-0000-0000-0000-000000000000/file';
    const body = (url: string) => JSON.stringify({ size: 0, manifest: [], from: 'qcow2', to: 'raw', expectSha512: null, glance: { url, token: 'x' } });
    const post = (token: string | null, url: string) =>
      request(`${base}/v1/target/convert`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: body(url) });
    const claims = { jobId: 'job-a', tenantId: 'tenant-a', cloudId: 'cloud-a', urls: [glance], exp };
    const none = await post(null, glance);
    expect(none.statusCode).toBe(401);
    await none.body.dump();
    const source = await post(signJobToken(SECRET, { ...claims, role: 'source' }), glance);
    expect(source.statusCode).toBe(401);
    await source.body.dump();
    const forged = await post(signJobToken('another key of at least thirty-two characters', { ...claims, role: 'target' }), glance);
    expect(forged.statusCode).toBe(401);
    await forged.body.dump();
    const elsewhere = await post(signJobToken(SECRET, { ...claims, role: 'target' }), 'http://127.0.0.1:9/v2/images/11111111-1111-1111-1111-111111111111/file');
    expect(elsewhere.statusCode).toBe(403);
    expect(((await elsewhere.body.json()) as { error: string }).error).toBe("glance.url is not an address this job's token allows");
    const badFormat = await request(`${base}/v1/target/convert`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${signJobToken(SECRET, { ...claims, role: 'target' })}` },
      body: JSON.stringify({ size: 0, manifest: [], from: 'qcow2', to: 'qcow2; rm -rf /', expectSha512: null, glance: { url: glance, token: 'x' } }),
    });
    expect(badFormat.statusCode).toBe(400);
    expect(((await badFormat.body.json()) as { error: string }).error).toMatch(/^from and to must be two different formats/);
  });
});

describe('disk format conversion by the target agent: a spool without room', () => {
  let lab: AgentConversionLab;
  beforeAll(async () => {
    // No filesystem has a pebibyte to spare: the agent's free-space check must refuse before writing.
    lab = await startLab('aconvfull', { AGENT_SPOOL_RESERVE_BYTES: String(1024 ** 5) });
  });
  afterAll(async () => {
    await lab?.dispose();
  });

  it('fails with SPOOL_SPACE naming the agent and its folder, and undoes', async () => {
    const job = await cloneInto(lab);
    expect(job.state).toBe('FAILED');
    expect(job.error.code).toBe('SPOOL_SPACE');
    expect(job.error.message).toContain(`transfer agent ${lab.agents[1].url}: not enough free disk space in ${path.join(lab.agentSpool, `job-${job.id}`)}`);
    expect(job.error.message).toContain('plus a reserve of 1048576 GiB (AGENT_SPOOL_RESERVE_BYTES on the agent)');
    expect(await lab.dst.listImages({ properties: { intercloud_job: job.id } })).toEqual([]);
    expect(entries(lab.agentSpool)).toEqual([]);
    expect(fs.existsSync(lab.brokerSpool)).toBe(false);
  });
});
