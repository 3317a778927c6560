/**
 * How clone jobs fail, through the API against sandbox clouds with an in-process broker: one
 * retry budget shared by the HTTP layer and the step layer, permanent errors failing at once, a
 * cancel that arrives while the job finishes, an unanswered create looked for before it is sent
 * again, the sweeper never queueing a job twice, and the reaper removing what ended jobs left.
 */
import crypto from 'node:crypto';
import { OperationName, Sandbox } from '../../sandbox';
import { OpenStackCloudApiFactory } from '../../src/adapters/openstack/openstack-cloud-api.factory';
import { CloudApi } from '../../src/ports/cloud-api.port';
import { startTestBroker, TestBroker } from '../support/broker';
import { CloneFixture, setUpClone, waitForJobState } from '../support/clone-fixture';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlOk } from '../support/graphql';
import { labCloudApiFactory, sandboxApi, startSandboxClouds } from '../support/sandbox';
import { waitFor } from '../support/wait';

const CLONE = `mutation($input: CloneVmInput!) { cloneVm(input: $input) { id } }`;

interface Env {
  db: TestDatabase;
  broker: TestBroker;
  fx: CloneFixture;
  clone(vmId: string): Promise<string>;
  end(jobId: string): Promise<Record<string, any>>;
}

describe('clone job failures', () => {
  let sandbox: Sandbox;
  let factory: OpenStackCloudApiFactory;
  let dst: CloudApi;
  let src: CloudApi;
  const envs: Env[] = [];

  const calls = async (cloud: 'src' | 'dst', op: OperationName) => (await sandbox.cloud(`fail-${cloud}`).control.calls())[op] ?? 0;
  const jobServers = async (jobId: string) => (await dst.listServers()).filter((s) => s.metadata.intercloud_job === jobId);
  const jobImages = (api: CloudApi, jobId: string) => api.listImages({ properties: { intercloud_job: jobId } });

  /** A broker with `env` on a database of its own, with the two clouds registered by a fresh tenant. */
  async function startEnv(env: Record<string, string>): Promise<Env> {
    const db = await createTestDatabase();
    const broker = await startTestBroker(db.url, env);
    const fx = await setUpClone(broker.url, broker.adminToken, sandbox, factory, 'fail-src', 'fail-dst');
    const e: Env = {
      db,
      broker,
      fx,
      clone: async (vmId) => (await gqlOk(broker.url, fx.tenant.token, CLONE, { input: { vmId, targetCloudId: fx.targetCloudId } })).cloneVm.id,
      end: (jobId) => waitForJobState(broker.url, fx.tenant.token, jobId, ['DONE', 'FAILED', 'CANCELLED'], 90_000),
    };
    envs.push(e);
    return e;
  }

  beforeAll(async () => {
    sandbox = await startSandboxClouds('fail-src', 'fail-dst');
    for (const c of sandbox.clouds) await c.control.setQuotas({ instances: 200, cores: 400, ramMb: 400_000 });
    factory = labCloudApiFactory();
    src = sandboxApi(factory, sandbox.cloud('fail-src'));
    dst = sandboxApi(factory, sandbox.cloud('fail-dst'));
  });

  afterAll(async () => {
    for (const e of envs) {
      await e.broker.stop();
      await e.db.drop();
    }
    await factory?.close();
    await sandbox?.stop();
  });

  beforeEach(async () => {
    for (const c of sandbox.clouds) {
      await c.control.clearFaults();
      await c.control.resetCalls();
    }
  });

  describe('with CLONE_STEP_ATTEMPTS=4', () => {
    let e: Env;
    beforeAll(async () => {
      e = await startEnv({ CLONE_STEP_ATTEMPTS: '4' });
    });

    it('tries a call that keeps failing transiently 4 times in all, not 4 per layer, then fails and undoes', async () => {
      const { vmId } = await e.fx.importNewVm();
      await sandbox.cloud('fail-dst').control.injectFault({ operation: 'nova.server.create', mode: 'fail', status: 503, count: 'always' });
      const job = await e.end(await e.clone(vmId));
      expect(job.state).toBe('FAILED');
      expect(job.error.code).toBe('UPSTREAM_UNAVAILABLE');
      expect(job.error.message).toContain('POST /servers');
      expect(await calls('dst', 'nova.server.create')).toBe(4);
      expect(await jobImages(dst, job.id)).toEqual([]);
      expect(await jobImages(src, job.id)).toEqual([]);
    });

    it('fails at once on a permanent refusal (HTTP 400), without retrying the step', async () => {
      const { vmId } = await e.fx.importNewVm();
      await sandbox.cloud('fail-dst').control.injectFault({ operation: 'nova.server.create', mode: 'fail', status: 400, message: 'Invalid flavorRef provided.' });
      const job = await e.end(await e.clone(vmId));
      expect(job.state).toBe('FAILED');
      expect(job.error.message).toContain('Invalid flavorRef provided.');
      expect(await calls('dst', 'nova.server.create')).toBe(1);
    });

    it('a cancel that arrives while the job finishes wins: CANCELLED, not DONE, and nothing is left', async () => {
      const { vmId } = await e.fx.importNewVm();
      // Finishing deletes the source snapshot first: hold the job there.
      await sandbox.cloud('fail-src').control.injectFault({ operation: 'glance.image.delete', mode: 'hang' });
      const jobId = await e.clone(vmId);
      await waitFor(async () => (await calls('src', 'glance.image.delete')) >= 1, 'the job to finish');
      const { cancelCloneJob } = await gqlOk(e.broker.url, e.fx.tenant.token, `mutation($id: ID!) { cancelCloneJob(id: $id) { state } }`, { id: jobId });
      expect(cancelCloneJob.state).toBe('CANCELLING');
      await sandbox.cloud('fail-src').control.clearFaults();
      const job = await e.end(jobId);
      expect(job.state).toBe('CANCELLED');
      expect(job.resultVm).toBeNull();
      expect(await jobServers(jobId)).toEqual([]);
      expect(await jobImages(dst, jobId)).toEqual([]);
      const { vms } = await gqlOk(e.broker.url, e.fx.tenant.token, `{ vms { name } }`);
      expect(vms.map((v: { name: string }) => v.name)).not.toContain(job.name);
    });
  });

  it('looks for the server an unanswered create made while Nova was still making it, instead of creating a second', async () => {
    const e = await startEnv({ CLOUD_REQUEST_TIMEOUT_SECONDS: '1', CLOUD_CREATE_GRACE_SECONDS: '10' });
    const { vmId } = await e.fx.importNewVm();
    // Nova makes the server 3 s after the request, long after the broker gave up waiting (1 s).
    await sandbox.cloud('fail-dst').control.injectFault({ operation: 'nova.server.create', mode: 'delay', hangMs: 3000 });
    const job = await e.end(await e.clone(vmId));
    expect(job.error).toBeNull();
    expect(job.state).toBe('DONE');
    expect((await jobServers(job.id)).map((s) => s.id)).toEqual([job.resultVm.serverId]);
    expect(await calls('dst', 'nova.server.create')).toBe(1);
  });

  it('queues a job at most once however often the sweeper hands it out', async () => {
    const e = await startEnv({ CLONE_CONCURRENCY: '1', CLONE_LEASE_SECONDS: '1' });
    const first = await e.fx.importNewVm();
    const second = await e.fx.importNewVm();
    // The only runner is held by the first job; the second waits while sweeps (one a second) hand it out again and again.
    await sandbox.cloud('fail-src').control.injectFault({ operation: 'nova.server.createImage', mode: 'hang' });
    const held = await e.clone(first.vmId);
    await waitFor(async () => (await calls('src', 'nova.server.createImage')) >= 1, 'the first job to hold the runner');
    const waiting = await e.clone(second.vmId);
    const queued = async () =>
      (await e.broker.dataSource.query(`SELECT count(*)::int AS n FROM pgboss.job WHERE state = 'created' AND data->>'cloneJobId' = $1`, [waiting]))[0].n as number;
    const handedOut = async () => (await e.broker.dataSource.query(`SELECT lease_owner FROM clone_jobs WHERE id = $1`, [waiting]))[0].lease_owner;
    await waitFor(async () => (await handedOut()) === 'requeued', 'a sweep to hand the waiting job out');
    // Several more sweeps.
    await new Promise((r) => setTimeout(r, 4000));
    expect(await queued()).toBe(1);
    await sandbox.cloud('fail-src').control.clearFaults();
    expect((await e.end(held)).state).toBe('DONE');
    expect((await e.end(waiting)).state).toBe('DONE');
    expect(await queued()).toBe(0);
  });

  it('the reaper deletes what an ended job left behind and keeps what a DONE job made', async () => {
    const e = await startEnv({ CLONE_REAPER_INTERVAL_SECONDS: '1', CLONE_REAPER_GRACE_SECONDS: '0' });
    const { vmId } = await e.fx.importNewVm();
    const done = await e.end(await e.clone(vmId));
    expect(done.state).toBe('DONE');
    const [image] = await jobImages(dst, done.id);
    // Leftovers as a crash between a create and its checkpoint would leave them: tagged with the ended job.
    const [flavor] = await dst.listFlavors();
    const info = await sandbox.cloud('fail-dst').control.info();
    const stray = await dst.createServer({ name: `${done.name}-stray`, imageId: image.id, flavorId: flavor.id, networks: [info.networks.private.id], metadata: { intercloud_job: done.id } });
    const strayImage = await dst.createImage({ name: 'stray', diskFormat: 'raw', containerFormat: 'bare', properties: { intercloud_job: done.id, intercloud_role: 'target' } });
    const foreignJob = crypto.randomUUID();
    const unknown = await dst.createImage({ name: 'not-ours', diskFormat: 'raw', containerFormat: 'bare', properties: { intercloud_job: foreignJob } });

    await waitFor(async () => !(await dst.getServer(stray.id)) && !(await dst.getImage(strayImage.id)), 'the reaper to delete the leftovers', 30_000);
    // The clone server, its image and floating IP stay; an image of a job the broker does not know stays too.
    expect((await jobServers(done.id)).map((s) => s.id)).toEqual([done.resultVm.serverId]);
    expect((await dst.getImage(image.id))?.status).toBe('active');
    expect((await dst.getServer(done.resultVm.serverId))!.addresses.some((a) => a.kind === 'floating')).toBe(true);
    expect((await dst.getImage(unknown.id))?.status).toBe('queued');

    const metrics = await (await fetch(`${new URL(e.broker.url).origin}/metrics`)).text();
    expect(metrics).toMatch(/^intercloud_reaped_objects_total\{kind="server"\} 1$/m);
    expect(metrics).toMatch(/^intercloud_reaped_objects_total\{kind="image"\} 1$/m);
    const { auditLog } = await gqlOk(e.broker.url, e.fx.tenant.token, `{ auditLog(first: 50) { action objectId details } }`);
    const reaped = auditLog.filter((a: { action: string }) => a.action === 'cloneJob.reap');
    expect(reaped.map((a: { details: { objectId: string } }) => a.details.objectId).sort()).toEqual([stray.id, strayImage.id].sort());
    expect(reaped.every((a: { objectId: string }) => a.objectId === done.id)).toBe(true);
    await dst.deleteImage(unknown.id);
  });
});
