/**
 * Durability of clone jobs with real broker processes: a crash right after a create whose id
 * was never checkpointed (the resumed job adopts it; a job that fails or is cancelled instead
 * finds it by its tag and deletes it), a broker paused (SIGSTOP) past its lease and resumed
 * (SIGCONT) that neither creates a second server, nor undoes what the broker that took over made,
 * nor goes on undoing once the new owner has, an undo interrupted by a crash, and a job whose cloud credentials can no longer be opened. Jobs
 * are held in place by hanging sandbox calls, never by timers. Needs dist/ (npm run build).
 */
import { BrokerProcess } from '../support/broker-process';
import { CloneLab, startCloneLab } from '../support/clone-lab';
import { gqlOk } from '../support/graphql';
import { waitFor } from '../support/wait';

describe('clone job durability', () => {
  let lab: CloneLab;
  let broker: BrokerProcess;

  beforeAll(async () => {
    lab = await startCloneLab('durable');
    broker = lab.firstBroker;
  }, 60_000);

  afterAll(async () => {
    await lab?.dispose();
  });

  beforeEach(async () => {
    for (const c of lab.sandbox.clouds) {
      await c.control.clearFaults();
      await c.control.resetCalls();
      await c.control.setBandwidth({ downloadBytesPerSecond: null, uploadBytesPerSecond: null });
    }
    if (broker.child.exitCode !== null || broker.child.signalCode !== null) broker = await lab.startBroker();
  });

  it('killed right after Glance made the target image, before its id was checkpointed: the resumed job adopts that image', async () => {
    const vmId = await lab.importVm(broker.url);
    // Glance creates the image at once but its answer never reaches this broker.
    await lab.dstCloud.control.injectFault({ operation: 'glance.image.create', mode: 'hang-after' });
    const jobId = await lab.startClone(broker.url, vmId);
    await waitFor(async () => (await lab.calls(lab.dstCloud, 'glance.image.create')) >= 1, 'the target image to be created');
    expect((await lab.jobImages(lab.dst, jobId)).map((i) => i.status)).toEqual(['queued']);
    await broker.crash();

    broker = await lab.startBroker();
    const job = await lab.waitForEnd(broker.url, jobId);
    expect(job.error).toBeNull();
    expect(job.state).toBe('DONE');
    const images = await lab.jobImages(lab.dst, jobId);
    expect(images.map((i) => i.status)).toEqual(['active']);
    expect((await lab.jobServers(lab.dst, jobId)).map((s) => s.imageId)).toEqual([images[0].id]);
    // One image made in all: the resumed job found it by its tag and used it.
    expect(await lab.calls(lab.dstCloud, 'glance.image.create')).toBe(1);
  }, 120_000);

  it('paused past its lease, then resumed: the stale broker makes no second server once another broker took over', async () => {
    const vmId = await lab.importVm(broker.url);
    // BOOT lists flavors before it creates the server: the first broker hangs there.
    await lab.dstCloud.control.injectFault({ operation: 'nova.flavor.list', mode: 'hang' });
    const jobId = await lab.startClone(broker.url, vmId);
    await waitFor(async () => (await lab.getJob(broker.url, jobId)).phase === 'BOOT' && (await lab.calls(lab.dstCloud, 'nova.flavor.list')) >= 1, 'BOOT to list flavors');
    const stale = broker;
    stale.child.kill('SIGSTOP');
    try {
      broker = await lab.startBroker();
      const job = await lab.waitForEnd(broker.url, jobId);
      expect(job.state).toBe('DONE');
      // The stale broker's flavor list now gets its answer, and it wakes up.
      await lab.dstCloud.control.clearFaults();
    } finally {
      stale.child.kill('SIGCONT');
    }
    await waitFor(() => stale.logs().some((l) => l.jobId === jobId && l.msg === 'job paused; another broker will resume it'), 'the stale broker to stop');
    expect((await lab.jobServers(lab.dst, jobId)).length).toBe(1);
    expect(await lab.calls(lab.dstCloud, 'nova.server.create')).toBe(1);
    await stale.dispose();
  }, 120_000);

  it('paused past its lease in a call that then fails for good: the stale broker undoes nothing the broker that took over made', async () => {
    const vmId = await lab.importVm(broker.url);
    // TRANSFER asks the source Glance for the snapshot's bytes: the first broker's download hangs there.
    await lab.srcCloud.control.injectFault({ operation: 'glance.image.download', mode: 'hang' });
    const jobId = await lab.startClone(broker.url, vmId);
    await waitFor(async () => (await lab.calls(lab.srcCloud, 'glance.image.download')) >= 1, 'TRANSFER to download the snapshot');
    const stale = broker;
    stale.child.kill('SIGSTOP');
    let done: Record<string, any>;
    try {
      broker = await lab.startBroker();
      done = await lab.waitForEnd(broker.url, jobId);
      expect(done.state).toBe('DONE');
      expect(await lab.jobImages(lab.src, jobId)).toEqual([]);
      // The stale download is let through to a snapshot the finished job deleted: its answer is a
      // 404, a permanent failure that would have the stale broker undo the job, by its tag.
      await lab.srcCloud.control.clearFaults();
    } finally {
      stale.child.kill('SIGCONT');
    }
    await waitFor(() => stale.logs().some((l) => l.jobId === jobId && l.msg === 'job paused; another broker will resume it'), 'the stale broker to stop');
    // Nothing was deleted in the target cloud: the clone, its image and floating IP are as the new owner left them.
    expect(await lab.calls(lab.dstCloud, 'nova.server.delete')).toBe(0);
    expect(await lab.calls(lab.dstCloud, 'glance.image.delete')).toBe(0);
    expect(await lab.calls(lab.dstCloud, 'neutron.floatingip.delete')).toBe(0);
    expect((await lab.jobServers(lab.dst, jobId)).map((s) => s.id)).toEqual([done.resultVm.serverId]);
    expect((await lab.dst.getServer(done.resultVm.serverId))!.addresses.some((a) => a.kind === 'floating')).toBe(true);
    expect((await lab.jobImages(lab.dst, jobId)).map((i) => i.status)).toEqual(['active']);
    const after = await lab.getJob(broker.url, jobId);
    expect(after.state).toBe('DONE');
    expect(after.error).toBeNull();
    expect((await lab.events(jobId)).filter((e) => e.kind === 'FAILED' || e.kind === 'CANCELLED')).toEqual([]);
    await stale.dispose();
  }, 120_000);

  it('paused past its lease while undoing: once another broker has finished the undo, the stale broker deletes nothing more', async () => {
    const vmId = await lab.importVm(broker.url);
    // The clone server goes to ERROR (BOOT fails for good); undoing, the first broker's delete of the target image hangs.
    // Once let through, that delete ends an undo step: only the lease check before the next one stands between the
    // stale broker and more deletions.
    await lab.dstCloud.control.injectFault({ operation: 'nova.server.build' });
    await lab.dstCloud.control.injectFault({ operation: 'glance.image.delete', mode: 'hang' });
    const jobId = await lab.startClone(broker.url, vmId);
    await waitFor(async () => (await lab.calls(lab.dstCloud, 'glance.image.delete')) >= 1, 'the undo to delete the target image');
    const stale = broker;
    stale.child.kill('SIGSTOP');
    const deletes = async () => ({
      servers: await lab.calls(lab.dstCloud, 'nova.server.delete'),
      targetImages: await lab.calls(lab.dstCloud, 'glance.image.delete'),
      snapshots: await lab.calls(lab.srcCloud, 'glance.image.delete'),
      floatingIps: await lab.calls(lab.dstCloud, 'neutron.floatingip.delete'),
    });
    let byNewOwner: Awaited<ReturnType<typeof deletes>>;
    try {
      broker = await lab.startBroker();
      const job = await lab.waitForEnd(broker.url, jobId);
      expect(job.state).toBe('FAILED');
      expect(job.error.code).toBe('BOOT_FAILED');
      byNewOwner = await deletes();
      // The stale broker's held delete is let through (the image is already gone).
      await lab.dstCloud.control.clearFaults();
    } finally {
      stale.child.kill('SIGCONT');
    }
    await waitFor(() => stale.logs().some((l) => l.jobId === jobId && l.msg === 'job paused; another broker will resume it'), 'the stale broker to stop');
    // No further undo: the stale broker confirms its lease before each one, and has lost it.
    expect(await deletes()).toEqual(byNewOwner);
    expect((await lab.events(jobId)).filter((e) => e.kind === 'FAILED')).toHaveLength(1);
    expect((await lab.getJob(broker.url, jobId)).state).toBe('FAILED');
    expect(stale.logs().some((l) => l.jobId === jobId && l.msg === 'job ended after compensation')).toBe(false);
    await stale.dispose();
  }, 120_000);

  it('killed right after Glance made the target image, then failing for good: the undo finds that image by its tag and deletes it', async () => {
    const vmId = await lab.importVm(broker.url);
    await lab.dstCloud.control.injectFault({ operation: 'glance.image.create', mode: 'hang-after' });
    const jobId = await lab.startClone(broker.url, vmId);
    await waitFor(async () => (await lab.calls(lab.dstCloud, 'glance.image.create')) >= 1, 'the target image to be created');
    await broker.crash();
    const [made] = await lab.jobImages(lab.dst, jobId);
    const artefacts = (await lab.pg.query(`SELECT artefacts FROM clone_jobs WHERE id = $1`, [jobId])).rows[0].artefacts;
    expect(artefacts.targetImageId).toBeUndefined();
    // The source snapshot is deleted meanwhile: the resumed TRANSFER fails for good before it looks for its image.
    await lab.src.deleteImage(artefacts.snapshotImageId);

    broker = await lab.startBroker();
    const job = await lab.waitForEnd(broker.url, jobId);
    expect(job.state).toBe('FAILED');
    expect(job.error.code).toBe('SNAPSHOT_FAILED');
    expect(await lab.dst.getImage(made.id)).toBeNull();
    expect(await lab.jobImages(lab.dst, jobId)).toEqual([]);
    expect(await lab.jobImages(lab.src, jobId)).toEqual([]);
    expect(await lab.jobServers(lab.dst, jobId)).toEqual([]);
    expect(await lab.calls(lab.dstCloud, 'glance.image.create')).toBe(1);
  }, 120_000);

  it('killed right after Glance made the target image, then cancelled before any broker resumed it: the undo finds that image by its tag and deletes it', async () => {
    const vmId = await lab.importVm(broker.url);
    await lab.dstCloud.control.injectFault({ operation: 'glance.image.create', mode: 'hang-after' });
    const jobId = await lab.startClone(broker.url, vmId);
    await waitFor(async () => (await lab.calls(lab.dstCloud, 'glance.image.create')) >= 1, 'the target image to be created');
    await broker.crash();
    const [made] = await lab.jobImages(lab.dst, jobId);
    // A broker that serves the API but runs no jobs takes the cancellation.
    const front = await lab.startBroker({ CLONE_CONCURRENCY: '0' });
    try {
      const { cancelCloneJob } = await gqlOk(front.url, lab.fx.tenant.token, `mutation($id: ID!) { cancelCloneJob(id: $id) { state } }`, { id: jobId });
      expect(cancelCloneJob.state).toBe('CANCELLING');
      broker = await lab.startBroker();
      const job = await lab.waitForEnd(broker.url, jobId);
      expect(job.state).toBe('CANCELLED');
    } finally {
      await front.dispose();
    }
    expect(await lab.dst.getImage(made.id)).toBeNull();
    expect(await lab.jobImages(lab.dst, jobId)).toEqual([]);
    expect(await lab.jobImages(lab.src, jobId)).toEqual([]);
    expect(await lab.jobServers(lab.dst, jobId)).toEqual([]);
  }, 120_000);

  it('killed while undoing a failed step: the resumed job goes on undoing and never re-runs the failed step', async () => {
    const vmId = await lab.importVm(broker.url);
    // The clone server goes to ERROR (BOOT fails for good); undoing it, Nova's delete hangs.
    await lab.dstCloud.control.injectFault({ operation: 'nova.server.build' });
    await lab.dstCloud.control.injectFault({ operation: 'nova.server.delete', mode: 'hang' });
    const jobId = await lab.startClone(broker.url, vmId);
    await waitFor(async () => (await lab.calls(lab.dstCloud, 'nova.server.delete')) >= 1, 'the undo to delete the server');
    const atCrash = await lab.getJob(broker.url, jobId);
    expect(atCrash.state).toBe('FAILING');
    expect(atCrash.error.code).toBe('BOOT_FAILED');
    await broker.crash();
    const seenBeforeCrash = (await lab.events(jobId)).length;

    broker = await lab.startBroker();
    const job = await lab.waitForEnd(broker.url, jobId);
    expect(job.state).toBe('FAILED');
    expect(job.error.code).toBe('BOOT_FAILED');
    // Nothing the job made is left, and BOOT was not started again after the crash.
    expect(await lab.jobServers(lab.dst, jobId)).toEqual([]);
    expect(await lab.jobImages(lab.dst, jobId)).toEqual([]);
    expect(await lab.jobImages(lab.src, jobId)).toEqual([]);
    const after = (await lab.events(jobId)).slice(seenBeforeCrash);
    expect(after.filter((e) => e.kind === 'PHASE_STARTED')).toEqual([]);
    expect(after.at(-1)).toMatchObject({ kind: 'FAILED', phase: 'FAILED' });
    expect(await lab.calls(lab.dstCloud, 'nova.server.create')).toBe(1);
  }, 120_000);

  it('a job whose cloud credentials can no longer be opened ends FAILED with the cause, and is not handed out again', async () => {
    const vmId = await lab.importVm(broker.url);
    // Held in SNAPSHOT, then the broker dies and the target cloud's stored credentials are wiped.
    await lab.srcCloud.control.injectFault({ operation: 'nova.server.createImage', mode: 'hang' });
    const jobId = await lab.startClone(broker.url, vmId);
    await waitFor(async () => (await lab.calls(lab.srcCloud, 'nova.server.createImage')) >= 1, 'SNAPSHOT to call createImage');
    await broker.crash();
    await lab.pg.query(`UPDATE clouds SET credentials_ciphertext = '\\x'::bytea WHERE id = $1`, [lab.fx.targetCloudId]);

    broker = await lab.startBroker({ CLONE_STEP_ATTEMPTS: '2' });
    const job = await lab.waitForEnd(broker.url, jobId);
    expect(job.state).toBe('FAILED');
    expect(job.error.message).toContain('cannot be opened');
    expect(job.error.message).toContain(lab.fx.targetCloudId);
    const failures = async () => (await lab.pg.query(`SELECT runner_failures FROM clone_jobs WHERE id = $1`, [jobId])).rows[0].runner_failures;
    expect(await failures()).toBe(2);
    // Several sweeps later (one a second) it is still FAILED and was not tried again.
    await new Promise((r) => setTimeout(r, 4_000));
    expect(await failures()).toBe(2);
    expect((await lab.getJob(broker.url, jobId)).state).toBe('FAILED');
    expect(broker.logs().filter((l) => l.jobId === jobId && l.msg === 'handing out a job nobody runs').length).toBeLessThanOrEqual(2);
  }, 120_000);
});
