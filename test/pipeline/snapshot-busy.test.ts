/**
 * Clones of one VM at once: Nova snapshots a server one task at a time and refuses createImage
 * with 409 while another snapshot runs, so SNAPSHOT waits for the server to be free (saying so
 * in the job's events) instead of spending its retries and failing. Two in-process brokers on
 * one database (replicas) against sandbox clouds; a server that stays busy past
 * CLONE_SNAPSHOT_TIMEOUT_SECONDS fails the job with an error naming its task state, undone.
 */
import { Client } from 'pg';
import { Sandbox } from '../../sandbox';
import { OpenStackCloudApiFactory } from '../../src/adapters/openstack/openstack-cloud-api.factory';
import { CloudApi } from '../../src/ports/cloud-api.port';
import { startTestBroker, TestBroker } from '../support/broker';
import { CloneFixture, setUpClone, waitForJobState } from '../support/clone-fixture';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlOk } from '../support/graphql';
import { labCloudApiFactory, sandboxApi, startSandboxClouds } from '../support/sandbox';
import { waitFor } from '../support/wait';

const CLONE = `mutation($input: CloneVmInput!) { cloneVm(input: $input) { id } }`;
const WAITING = /^server busy with another snapshot \(task_state image_[a-z_]+\): waiting$/;

interface Env {
  db: TestDatabase;
  pg: Client;
  brokers: TestBroker[];
  fx: CloneFixture;
}

describe('SNAPSHOT of a server busy with another snapshot', () => {
  let sandbox: Sandbox;
  let factory: OpenStackCloudApiFactory;
  let src: CloudApi;
  let dst: CloudApi;
  const envs: Env[] = [];

  /** `replicas` brokers on a database of their own, with the two clouds registered by a fresh tenant. */
  async function startEnv(replicas: number, env: Record<string, string>): Promise<Env> {
    const db = await createTestDatabase();
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    const brokers: TestBroker[] = [];
    const e: Env = { db, pg, brokers, fx: undefined as unknown as CloneFixture };
    envs.push(e);
    for (let i = 0; i < replicas; i++) brokers.push(await startTestBroker(db.url, { ...env, ...(i > 0 ? { INTERCLOUD_ADMIN_TOKEN: brokers[0]!.adminToken } : {}) }));
    e.fx = await setUpClone(brokers[0]!.url, brokers[0]!.adminToken, sandbox, factory, 'busy-src', 'busy-dst');
    return e;
  }

  const events = async (e: Env, jobId: string) => {
    const { rows } = await e.pg.query<{ payload: { kind: string; phase: string; message: string | null } }>(`SELECT payload FROM events WHERE stream = $1 ORDER BY seq`, [
      `clone-job:${jobId}`,
    ]);
    return rows.map((r) => r.payload);
  };
  const clone = async (e: Env, broker: TestBroker, vmId: string): Promise<string> =>
    (await gqlOk(broker.url, e.fx.tenant.token, CLONE, { input: { vmId, targetCloudId: e.fx.targetCloudId } })).cloneVm.id;
  const end = (e: Env, jobId: string) => waitForJobState(e.brokers[0]!.url, e.fx.tenant.token, jobId, ['DONE', 'FAILED', 'CANCELLED'], 180_000);
  const jobImages = (api: CloudApi, jobId: string) => api.listImages({ properties: { intercloud_job: jobId } });

  beforeAll(async () => {
    sandbox = await startSandboxClouds('busy-src', 'busy-dst');
    for (const c of sandbox.clouds) await c.control.setQuotas({ instances: 200, cores: 400, ramMb: 400_000 });
    factory = labCloudApiFactory();
    src = sandboxApi(factory, sandbox.cloud('busy-src'));
    dst = sandboxApi(factory, sandbox.cloud('busy-dst'));
  });

  afterAll(async () => {
    for (const e of envs) {
      for (const b of e.brokers) await b.stop();
      await e.pg.end();
      await e.db.drop();
    }
    await factory?.close();
    await sandbox?.stop();
  });

  afterEach(async () => {
    await sandbox.cloud('busy-src').control.setLatency({ snapshotMs: 500 });
  });

  it('four clones of one VM started at once on two replicas all end DONE, those that found it busy having waited', async () => {
    // Two replicas, two jobs each at once, few retries: the refusals must not be what the jobs spend them on.
    const e = await startEnv(2, { CLONE_CONCURRENCY: '2', CLONE_STEP_ATTEMPTS: '3' });
    const { vmId } = await e.fx.importNewVm();
    // Each snapshot holds the server for 3 s: far longer than a few quick retries of a refused createImage.
    await sandbox.cloud('busy-src').control.setLatency({ snapshotMs: 3000 });
    const jobIds = await Promise.all([0, 1, 2, 3].map((i) => clone(e, e.brokers[i % 2]!, vmId)));
    const jobs = await Promise.all(jobIds.map((id) => end(e, id)));
    for (const job of jobs) expect({ id: job.id, state: job.state, error: job.error }).toEqual({ id: job.id, state: 'DONE', error: null });
    expect(new Set(jobs.map((j) => j.resultVm.serverId)).size).toBe(4);
    const notes = await Promise.all(jobIds.map(async (id) => (await events(e, id)).filter((e) => e.kind === 'PROGRESS' && e.phase === 'SNAPSHOT').map((e) => e.message ?? '')));
    // Only one snapshot of the server runs at a time: whoever was not first waited, and said so.
    const waited = notes.filter((n) => n.some((m) => WAITING.test(m)));
    expect(waited.length).toBeGreaterThanOrEqual(1);
    // No job spent its retries on the refusals.
    for (const n of notes) expect(n.filter((m) => m.includes('409'))).toEqual([]);
    // Each job made exactly one snapshot, deleted once its clone was DONE.
    for (const id of jobIds) expect(await jobImages(src, id)).toEqual([]);
  });

  it('a server that stays busy past CLONE_SNAPSHOT_TIMEOUT_SECONDS fails the job with SERVER_BUSY naming the task state, and undoes', async () => {
    const e = await startEnv(1, { CLONE_SNAPSHOT_TIMEOUT_SECONDS: '5' });
    const { vmId, server } = await e.fx.importNewVm();
    // Someone else's snapshot that holds the server (in image_snapshot) for 30 s, longer than the 5 s bound.
    await sandbox.cloud('busy-src').control.setLatency({ snapshotMs: 60_000 });
    const foreign = await src.createServerImage(server.id, 'someone-elses-backup', { owner: 'not-the-broker' });
    await waitFor(async () => ((await src.getServer(server.id))?.taskState === 'image_snapshot' ? true : undefined), 'the server to be busy snapshotting');
    const jobId = await clone(e, e.brokers[0]!, vmId);
    const job = await end(e, jobId);
    expect(job.state).toBe('FAILED');
    expect(job.error.code).toBe('SERVER_BUSY');
    expect(job.error.message).toContain(`source server ${server.id}`);
    expect(job.error.message).toContain('task_state image_snapshot');
    expect(job.error.message).toContain('5 s');
    const messages = (await events(e, jobId)).map((e) => e.message ?? '');
    expect(messages.filter((m) => WAITING.test(m))).toEqual(['server busy with another snapshot (task_state image_snapshot): waiting']);
    // Undone: the job made nothing that is left, and the other snapshot is untouched.
    expect(await jobImages(src, jobId)).toEqual([]);
    expect(await jobImages(dst, jobId)).toEqual([]);
    expect((await dst.listServers()).filter((s) => s.metadata.intercloud_job === jobId)).toEqual([]);
    expect((await src.getImage(foreign))?.status).not.toBe('deleted');
  });

  it('a job waiting for a busy server is cancelled at once: CANCELLED, nothing left', async () => {
    const e = await startEnv(1, {});
    const { vmId, server } = await e.fx.importNewVm();
    await sandbox.cloud('busy-src').control.setLatency({ snapshotMs: 60_000 });
    await src.createServerImage(server.id, 'someone-elses-backup', { owner: 'not-the-broker' });
    await waitFor(async () => ((await src.getServer(server.id))?.taskState === 'image_snapshot' ? true : undefined), 'the server to be busy snapshotting');
    const jobId = await clone(e, e.brokers[0]!, vmId);
    await waitFor(async () => (await events(e, jobId)).some((ev) => WAITING.test(ev.message ?? '')), 'the job to wait for the busy server');
    await gqlOk(e.brokers[0]!.url, e.fx.tenant.token, `mutation($id: ID!) { cancelCloneJob(id: $id) { state } }`, { id: jobId });
    // Well before the other snapshot ends (30 s in image_snapshot): the wait does not hold the cancel.
    const job = await waitForJobState(e.brokers[0]!.url, e.fx.tenant.token, jobId, ['DONE', 'FAILED', 'CANCELLED'], 60_000);
    expect(job.state).toBe('CANCELLED');
    expect((await src.getServer(server.id))?.taskState).toMatch(/^image_/);
    expect(await jobImages(src, jobId)).toEqual([]);
    expect(await jobImages(dst, jobId)).toEqual([]);
  });
});
