/**
 * Crash recovery of the clone pipeline with real broker processes on one database. A broker is
 * SIGKILLed while a job is held in a chosen phase (by a hanging sandbox call or a throttled link,
 * never by a timer); another broker process resumes the job from its checkpoint once the lease
 * (CLONE_LEASE_SECONDS=2) lapses, and the job ends DONE with exactly one target image, one
 * server, no source snapshot left and a gap-free event stream. Two brokers up at once share the
 * jobs without running any twice. Needs dist/ (npx tsc -p tsconfig.json).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { OperationName, Sandbox, SandboxCloud } from '../../sandbox';
import { OpenStackCloudApiFactory } from '../../src/adapters/openstack/openstack-cloud-api.factory';
import { CloudApi } from '../../src/ports/cloud-api.port';
import { BrokerProcess, spawnBroker } from '../support/broker-process';
import { CLONE_JOB_FIELDS, CloneFixture, setUpClone, waitForJobState } from '../support/clone-fixture';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlOk } from '../support/graphql';
import { LAB_CLOUD_ENV } from '../support/lab';
import { bootSandboxServer, labCloudApiFactory, sandboxApi, startSandboxClouds } from '../support/sandbox';
import { waitFor } from '../support/wait';

const CLONE = `mutation($input: CloneVmInput!) { cloneVm(input: $input) { id } }`;
const JOB = `query($id: ID!) { cloneJob(id: $id) { ${CLONE_JOB_FIELDS} } }`;
const CROSS_CLOUD_PHASES = ['SNAPSHOT', 'TRANSFER', 'IMPORT', 'BOOT', 'NETWORK'];

type Job = Record<string, any>;


describe('clone jobs survive a broker process killed at any point', () => {
  const adminToken = `icb_resume_${crypto.randomBytes(24).toString('base64url')}`;
  // Shared by every broker process: each must open the cloud credentials the others stored.
  const secretKey = crypto.randomBytes(32).toString('base64');
  const processes: BrokerProcess[] = [];
  const dataDirs: string[] = [];
  let db: TestDatabase;
  let pg: Client;
  let sandbox: Sandbox;
  let factory: OpenStackCloudApiFactory;
  let srcCloud: SandboxCloud;
  let dstCloud: SandboxCloud;
  let src: CloudApi;
  let dst: CloudApi;
  let fx: CloneFixture;
  /** The seeded image every source server boots from (snapshots of running jobs are active images too). */
  let baseImageId: string;
  /** The broker that runs the next job (and is killed). */
  let broker: BrokerProcess;

  const startBroker = async (): Promise<BrokerProcess> => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-resume-'));
    dataDirs.push(dir);
    const p = await spawnBroker({
      DATABASE_URL: db.url,
      PORT: '0',
      HOST: '127.0.0.1',
      INTERCLOUD_ADMIN_TOKEN: adminToken,
      INTERCLOUD_SECRET_KEY: secretKey,
      INTERCLOUD_DATA_DIR: dir,
      LOG_LEVEL: 'info',
      SHUTDOWN_GRACE_MS: '3000',
      CLONE_LEASE_SECONDS: '2',
      // One job at a time per broker: two jobs running at once are then on two brokers.
      CLONE_CONCURRENCY: '1',
      ...LAB_CLOUD_ENV,
    });
    processes.push(p);
    return p;
  };

  const token = () => fx.tenant.token;
  const getJob = async (url: string, id: string): Promise<Job> => (await gqlOk(url, token(), JOB, { id })).cloneJob;
  const jobImages = (api: CloudApi, jobId: string) => api.listImages({ properties: { intercloud_job: jobId } });
  const jobServers = async (api: CloudApi, jobId: string) => (await api.listServers()).filter((s) => s.metadata.intercloud_job === jobId);
  const calls = async (cloud: SandboxCloud, op: OperationName) => (await cloud.control.calls())[op] ?? 0;

  /** A fresh ACTIVE server in the source cloud, imported into the fixture's VM type through `url`. */
  const importVm = async (url: string): Promise<string> => {
    const server = await bootSandboxServer(srcCloud, `sip-${crypto.randomBytes(3).toString('hex')}`, baseImageId, factory);
    const { importVm: vm } = await gqlOk(url, token(), `mutation($input: ImportVmInput!) { importVm(input: $input) { id } }`, {
      input: { cloudId: fx.sourceCloudId, serverId: server.id, vmTypeId: fx.vmTypeId },
    });
    return vm.id;
  };

  const startClone = async (url: string, vmId: string): Promise<string> =>
    (await gqlOk(url, token(), CLONE, { input: { vmId, targetCloudId: fx.targetCloudId } })).cloneVm.id;

  /** Polls the job over HTTP until `ready` holds, then kills its broker with SIGKILL. */
  const crashWhen = async (jobId: string, what: string, ready: (job: Job) => Promise<boolean>): Promise<Job> => {
    let job: Job = {};
    await waitFor(async () => {
      job = await getJob(broker.url, jobId);
      if (['DONE', 'FAILED', 'CANCELLED'].includes(job.state)) throw new Error(`job ended ${job.state} before ${what}: ${JSON.stringify(job.error)}`);
      return ready(job);
    }, what);
    await broker.crash();
    return job;
  };

  /**
   * Starts another broker on the same database and waits for the job to end. Faults are armed
   * for one call and never cleared here: clearing would release the dead broker's held request
   * before the cloud noticed its client is gone, and the cloud would then carry it out.
   */
  const resume = async (jobId: string): Promise<Job> => {
    for (const c of sandbox.clouds) await c.control.setBandwidth({ downloadBytesPerSecond: null, uploadBytesPerSecond: null });
    broker = await startBroker();
    return waitForJobState(broker.url, token(), jobId, ['DONE', 'FAILED', 'CANCELLED'], 120_000);
  };

  const storedEvents = async (jobId: string) => {
    const { rows } = await pg.query<{ seq: number; payload: { kind: string; phase: string; message: string | null } }>(
      `SELECT seq, payload FROM events WHERE stream = $1 ORDER BY seq`,
      [`clone-job:${jobId}`],
    );
    const [{ last_seq: lastSeq }] = (await pg.query(`SELECT last_seq FROM event_streams WHERE stream = $1`, [`clone-job:${jobId}`])).rows;
    return { lastSeq: Number(lastSeq), seqs: rows.map((r) => Number(r.seq)), events: rows.map((r) => r.payload) };
  };

  /** DONE, one image and one server in the target, no source snapshot, timed phases, gap-free events. */
  const expectCleanlyDone = async (job: Job, resumedPhase: string | null): Promise<void> => {
    expect(job.error).toBeNull();
    expect(job).toMatchObject({ state: 'DONE', phase: 'DONE' });
    expect(job.phases.map((p: Job) => p.phase)).toEqual(CROSS_CLOUD_PHASES);
    for (const p of job.phases) {
      expect(p.finishedAt).not.toBeNull();
      expect(p.durationMs).toBeGreaterThanOrEqual(0);
    }
    const images = await jobImages(dst, job.id);
    expect(images.map((i) => i.status)).toEqual(['active']);
    const servers = await jobServers(dst, job.id);
    expect(servers.map((s) => s.id)).toEqual([job.resultVm.serverId]);
    expect(servers[0].imageId).toBe(images[0].id);
    expect(await jobImages(src, job.id)).toEqual([]);

    const { lastSeq, seqs, events } = await storedEvents(job.id);
    expect(seqs).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1));
    expect(events.filter((e) => e.kind === 'DONE')).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ kind: 'DONE', phase: 'DONE' });
    const completed = events.filter((e) => e.kind === 'PHASE_COMPLETED').map((e) => e.phase);
    expect(completed).toEqual(CROSS_CLOUD_PHASES);
    const resumed = events.filter((e) => e.kind === 'PHASE_STARTED' && e.message === 'resumed from checkpoint').map((e) => e.phase);
    expect(resumed).toEqual(resumedPhase ? [resumedPhase] : []);
  };

  beforeAll(async () => {
    sandbox = await startSandboxClouds('resume-src', 'resume-dst');
    for (const c of sandbox.clouds) await c.control.setQuotas({ instances: 200, cores: 400, ramMb: 400_000 });
    srcCloud = sandbox.cloud('resume-src');
    dstCloud = sandbox.cloud('resume-dst');
    factory = labCloudApiFactory();
    src = sandboxApi(factory, srcCloud);
    dst = sandboxApi(factory, dstCloud);
    [{ id: baseImageId }] = await src.listImages({ name: 'cirros-sandbox', status: 'active' });
    db = await createTestDatabase();
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    broker = await startBroker();
    fx = await setUpClone(broker.url, adminToken, sandbox, factory, 'resume-src', 'resume-dst');
  }, 60_000);

  afterAll(async () => {
    for (const p of processes) await p.dispose();
    await pg?.end();
    await db?.drop();
    await factory?.close();
    await sandbox?.stop();
    for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    for (const c of sandbox.clouds) {
      await c.control.clearFaults();
      await c.control.resetCalls();
    }
  });

  it('killed in SNAPSHOT while Nova createImage is in flight: the resumed job snapshots again', async () => {
    const vmId = await importVm(broker.url);
    await srcCloud.control.resetCalls();
    await srcCloud.control.injectFault({ operation: 'nova.server.createImage', mode: 'hang' });
    const jobId = await startClone(broker.url, vmId);
    await crashWhen(jobId, 'createImage to be called in SNAPSHOT', async (j) => j.phase === 'SNAPSHOT' && (await calls(srcCloud, 'nova.server.createImage')) >= 1);
    await expectCleanlyDone(await resume(jobId), 'SNAPSHOT');
    // The held request died with its client, so the cloud made one snapshot: the resumed one.
    expect(await calls(srcCloud, 'nova.server.createImage')).toBe(2);
  }, 120_000);

  it('killed in SNAPSHOT after createImage answered: the resumed job waits for that snapshot rather than making another', async () => {
    const vmId = await importVm(broker.url);
    await srcCloud.control.resetCalls();
    // The runner asks Glance about the snapshot only after Nova made it and the id was checkpointed.
    await srcCloud.control.injectFault({ operation: 'glance.image.show', mode: 'hang' });
    const jobId = await startClone(broker.url, vmId);
    await crashWhen(jobId, 'the snapshot to be polled in SNAPSHOT', async (j) => j.phase === 'SNAPSHOT' && (await calls(srcCloud, 'glance.image.show')) >= 1);
    expect(await calls(srcCloud, 'nova.server.createImage')).toBe(1);
    await expectCleanlyDone(await resume(jobId), 'SNAPSHOT');
    expect(await calls(srcCloud, 'nova.server.createImage')).toBe(1);
  }, 120_000);

  it('killed in TRANSFER mid-stream: the resumed job streams the image again into the same job image', async () => {
    const vmId = await importVm(broker.url);
    await dstCloud.control.resetCalls();
    await srcCloud.control.setBandwidth({ downloadBytesPerSecond: 256 * 1024 });
    const jobId = await startClone(broker.url, vmId);
    const atKill = await crashWhen(jobId, 'bytes to flow in TRANSFER', async (j) => j.phase === 'TRANSFER' && j.bytesTransferred > 0);
    expect(atKill.bytesTransferred).toBeLessThan(atKill.bytesTotal);
    const job = await resume(jobId);
    await expectCleanlyDone(job, 'TRANSFER');
    expect(job.bytesTransferred).toBe(job.bytesTotal);
    expect(await calls(dstCloud, 'glance.image.upload')).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('killed in BOOT while Nova create is in flight: the resumed job boots exactly one server', async () => {
    const vmId = await importVm(broker.url);
    await dstCloud.control.resetCalls();
    await dstCloud.control.injectFault({ operation: 'nova.server.create', mode: 'hang' });
    const jobId = await startClone(broker.url, vmId);
    await crashWhen(jobId, 'Nova create to be called in BOOT', async (j) => j.phase === 'BOOT' && (await calls(dstCloud, 'nova.server.create')) >= 1);
    await expectCleanlyDone(await resume(jobId), 'BOOT');
    // The held create died with its client; the resumed job's create is the one that counts.
    expect(await calls(dstCloud, 'nova.server.create')).toBe(2);
  }, 120_000);

  it('killed in BOOT after Nova create answered: the resumed job adopts that server', async () => {
    const vmId = await importVm(broker.url);
    await dstCloud.control.resetCalls();
    // The runner shows the server only after creating it (and checkpointing its id).
    await dstCloud.control.injectFault({ operation: 'nova.server.show', mode: 'hang' });
    const jobId = await startClone(broker.url, vmId);
    await crashWhen(jobId, 'the new server to be polled in BOOT', async (j) => j.phase === 'BOOT' && (await calls(dstCloud, 'nova.server.show')) >= 1);
    expect(await calls(dstCloud, 'nova.server.create')).toBe(1);
    await expectCleanlyDone(await resume(jobId), 'BOOT');
    expect(await calls(dstCloud, 'nova.server.create')).toBe(1);
  }, 120_000);

  it('killed in NETWORK while the floating IP is being created: the clone ends with one floating address', async () => {
    const vmId = await importVm(broker.url);
    await dstCloud.control.resetCalls();
    await dstCloud.control.injectFault({ operation: 'neutron.floatingip.create', mode: 'hang' });
    const jobId = await startClone(broker.url, vmId);
    await crashWhen(jobId, 'the floating IP to be requested in NETWORK', async (j) => j.phase === 'NETWORK' && (await calls(dstCloud, 'neutron.floatingip.create')) >= 1);
    const job = await resume(jobId);
    await expectCleanlyDone(job, 'NETWORK');
    expect(job.resultVm.addresses.filter((a: Job) => a.kind === 'floating')).toHaveLength(1);
  }, 120_000);

  it('killed after the last phase, while the source snapshot is deleted: the resumed job deletes it and ends DONE once', async () => {
    const vmId = await importVm(broker.url);
    await srcCloud.control.resetCalls();
    await srcCloud.control.injectFault({ operation: 'glance.image.delete', mode: 'hang' });
    const jobId = await startClone(broker.url, vmId);
    const atKill = await crashWhen(jobId, 'the source snapshot to be deleted', async () => (await calls(srcCloud, 'glance.image.delete')) >= 1);
    // Not DONE yet: a DONE job is never picked up again, so its snapshot would stay behind.
    expect(atKill.state).toBe('RUNNING');
    await expectCleanlyDone(await resume(jobId), null);
  }, 120_000);

  it('two brokers up at once share the jobs and run each exactly once', async () => {
    const other = await startBroker();
    const brokers = [broker, other];
    const vmIds = [await importVm(broker.url), await importVm(other.url), await importVm(broker.url)];
    for (const c of sandbox.clouds) await c.control.resetCalls();
    // Hold every job at Nova create: with one job per broker at a time, two held at once are on two brokers.
    await dstCloud.control.injectFault({ operation: 'nova.server.create', mode: 'hang', count: 'always' });
    const jobIds: string[] = [];
    for (const [i, vmId] of vmIds.entries()) jobIds.push(await startClone(brokers[i % 2].url, vmId));

    await waitFor(async () => (await calls(dstCloud, 'nova.server.create')) >= 2, 'two jobs to reach Nova create');
    const { rows: held } = await pg.query<{ lease_owner: string }>(`SELECT lease_owner FROM clone_jobs WHERE id = ANY($1) AND phase = 'BOOT'`, [jobIds]);
    expect(held).toHaveLength(2);
    expect(new Set(held.map((r) => r.lease_owner)).size).toBe(2);
    await dstCloud.control.clearFaults();

    for (const id of jobIds) await expectCleanlyDone(await waitForJobState(brokers[0].url, token(), id, ['DONE', 'FAILED', 'CANCELLED'], 120_000), null);
    // One snapshot and one server create per job: no job ran twice, not even partly.
    expect(await calls(srcCloud, 'nova.server.createImage')).toBe(3);
    expect(await calls(dstCloud, 'nova.server.create')).toBe(3);
    for (const id of jobIds) {
      const ranOn = brokers.filter((b) => b.logs().some((l) => l.jobId === id && l.msg === 'job phase started'));
      expect(ranOn).toHaveLength(1);
    }
    await other.crash();
  }, 180_000);
});
