/** The clone pipeline end to end through the GraphQL API, against two sandbox clouds. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Sandbox } from '../../sandbox';
import { OpenStackCloudApiFactory } from '../../src/adapters/openstack/openstack-cloud-api.factory';
import { CloudApi } from '../../src/ports/cloud-api.port';
import { startTestBroker, TestBroker } from '../support/broker';
import { CLONE_JOB_FIELDS, CloneFixture, setUpClone, waitForJobPhase, waitForJobState } from '../support/clone-fixture';
import { createTestDatabase, TestDatabase } from '../support/database';
import { collect, gqlError, gqlOk, untilComplete, wsClient } from '../support/graphql';
import { labCloudApiFactory, sandboxApi, startSandboxClouds } from '../support/sandbox';

const CLONE = `mutation($input: CloneVmInput!) { cloneVm(input: $input) { ${CLONE_JOB_FIELDS} } }`;
const EVENTS = `subscription($id: ID!, $after: Int) { cloneJobEvents(jobId: $id, afterSeq: $after) { seq jobId kind phase bytesTransferred bytesTotal bytesPerSecond etaSeconds message } }`;

async function sha512(api: CloudApi, imageId: string): Promise<string> {
  const { stream } = await api.downloadImage(imageId);
  const hash = crypto.createHash('sha512');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

describe('clone pipeline', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let sandbox: Sandbox;
  let factory: OpenStackCloudApiFactory;
  let url: string;
  let fx: CloneFixture;
  let src: CloudApi;
  let dst: CloudApi;

  beforeAll(async () => {
    sandbox = await startSandboxClouds('clone-src', 'clone-dst');
    for (const c of sandbox.clouds) await c.control.setQuotas({ instances: 200, cores: 400, ramMb: 400_000 });
    factory = labCloudApiFactory();
    db = await createTestDatabase();
    broker = await startTestBroker(db.url, { CLONE_STEP_ATTEMPTS: '3' });
    url = broker.url;
    fx = await setUpClone(url, broker.adminToken, sandbox, factory, 'clone-src', 'clone-dst');
    src = sandboxApi(factory, sandbox.cloud('clone-src'));
    dst = sandboxApi(factory, sandbox.cloud('clone-dst'));
  });

  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
    await factory?.close();
    await sandbox?.stop();
  });

  afterEach(async () => {
    for (const c of sandbox.clouds) await c.control.clearFaults();
  });

  const jobImages = async (api: CloudApi, jobId: string) => api.listImages({ properties: { intercloud_job: jobId } });
  const jobServers = async (api: CloudApi, jobId: string) => (await api.listServers()).filter((s) => s.metadata.intercloud_job === jobId);

  it('clones a VM into another cloud, streaming and verifying the image, and reports each phase live', async () => {
    const { vmId, server } = await fx.importNewVm('sip-a');
    const client = wsClient(url, fx.tenant.token);
    try {
      const { cloneVm } = await gqlOk(url, fx.tenant.token, CLONE, { input: { vmId, targetCloudId: fx.targetCloudId, name: 'sip-a-clone' } });
      expect(cloneVm).toMatchObject({ state: expect.stringMatching(/QUEUED|RUNNING/), name: 'sip-a-clone', sourceVm: { id: vmId }, targetCloud: { id: fx.targetCloudId } });
      const events: Record<string, any>[] = [];
      const sub = collect<{ cloneJobEvents: Record<string, any> }>(client, EVENTS, { id: cloneVm.id, after: 0 }, 1000, 60_000);
      const job = await waitForJobState(url, fx.tenant.token, cloneVm.id, ['DONE', 'FAILED']);
      expect(job.error).toBeNull();
      expect(job.state).toBe('DONE');
      // Wait for the DONE event to arrive on the subscription too.
      const deadline = Date.now() + 10_000;
      while (!sub.received.some((e) => e.cloneJobEvents.kind === 'DONE') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      sub.stop();
      events.push(...sub.received.map((e) => e.cloneJobEvents));

      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      const phaseEvents = events.filter((e) => e.kind === 'PHASE_STARTED' || e.kind === 'PHASE_COMPLETED').map((e) => `${e.kind === 'PHASE_STARTED' ? '>' : '<'}${e.phase}`);
      expect(phaseEvents).toEqual(['>QUEUED', '>SNAPSHOT', '<SNAPSHOT', '>TRANSFER', '<TRANSFER', '>IMPORT', '<IMPORT', '>BOOT', '<BOOT', '>NETWORK', '<NETWORK']);
      expect(events.at(-1)).toMatchObject({ kind: 'DONE', phase: 'DONE' });
      const progress = events.filter((e) => e.kind === 'PROGRESS' && e.phase === 'TRANSFER');
      expect(progress.length).toBeGreaterThan(0);
      expect(progress.at(-1)).toMatchObject({ bytesTransferred: job.bytesTotal, bytesTotal: job.bytesTotal });
      // In seq order the byte count never goes back, and TRANSFER completes after its last PROGRESS.
      expect(progress.every((e, i) => i === 0 || e.bytesTransferred >= progress[i - 1].bytesTransferred)).toBe(true);
      const transferDone = events.find((e) => e.kind === 'PHASE_COMPLETED' && e.phase === 'TRANSFER')!;
      expect(progress.at(-1)!.seq).toBeLessThan(transferDone.seq);

      expect(job.phases.map((p: { phase: string }) => p.phase)).toEqual(['SNAPSHOT', 'TRANSFER', 'IMPORT', 'BOOT', 'NETWORK']);
      for (const p of job.phases) expect(p.durationMs).toBeGreaterThanOrEqual(0);
      expect(job.bytesTransferred).toBe(job.bytesTotal);
      expect(job.bytesTotal).toBeGreaterThan(0);

      // Exactly one image and one server in the target, tagged with the job; the server runs the copied bytes.
      const [image, ...moreImages] = await jobImages(dst, job.id);
      expect(moreImages).toEqual([]);
      expect(image.status).toBe('active');
      expect(await sha512(dst, image.id)).toBe(image.hashValue);
      const servers = await jobServers(dst, job.id);
      expect(servers.map((s) => s.id)).toEqual([job.resultVm.serverId]);
      expect(servers[0].imageId).toBe(image.id);
      // The clone has its floating IP, and is a VM the broker knows, of the source's VM type.
      expect(job.resultVm.addresses.map((a: { kind: string }) => a.kind)).toContain('floating');
      const { vms } = await gqlOk(url, fx.tenant.token, `query($t: ID) { vms(vmTypeId: $t) { id origin } }`, { t: fx.vmTypeId });
      expect(vms).toEqual(expect.arrayContaining([{ id: job.resultVm.id, origin: 'CLONE' }]));
      // The source snapshot was a means, not an end: it is gone; the source server is untouched.
      expect(await jobImages(src, job.id)).toEqual([]);
      expect((await src.getServer(server.id))!.status).toBe('ACTIVE');
    } finally {
      await client.dispose();
    }
  });

  it('clones within one cloud without TRANSFER or IMPORT', async () => {
    const { vmId } = await fx.importNewVm('sip-intra');
    const { cloneVm } = await gqlOk(url, fx.tenant.token, CLONE, { input: { vmId, targetCloudId: fx.sourceCloudId } });
    const job = await waitForJobState(url, fx.tenant.token, cloneVm.id, ['DONE', 'FAILED']);
    expect(job.state).toBe('DONE');
    expect(job.phases.map((p: { phase: string }) => p.phase)).toEqual(['SNAPSHOT', 'BOOT', 'NETWORK']);
    const servers = await jobServers(src, job.id);
    expect(servers.length).toBe(1);
    // Within a cloud the snapshot is the clone's image, so it stays.
    expect((await jobImages(src, job.id)).map((i) => i.id)).toEqual([servers[0].imageId]);
  });

  it('returns the same job for the same idempotency key, and refuses the key for another request', async () => {
    const { vmId } = await fx.importNewVm();
    const input = { vmId, targetCloudId: fx.targetCloudId, idempotencyKey: `retry-${crypto.randomUUID()}` };
    const [a, b] = await Promise.all([gqlOk(url, fx.tenant.token, CLONE, { input }), gqlOk(url, fx.tenant.token, CLONE, { input })]);
    expect(a.cloneVm.id).toBe(b.cloneVm.id);
    const c = await gqlOk(url, fx.tenant.token, CLONE, { input });
    expect(c.cloneVm.id).toBe(a.cloneVm.id);
    const other = await fx.importNewVm();
    const err = await gqlError(url, fx.tenant.token, CLONE, { input: { ...input, vmId: other.vmId } });
    expect(err.extensions).toMatchObject({ code: 'CONFLICT', field: 'input.idempotencyKey' });
    const job = await waitForJobState(url, fx.tenant.token, a.cloneVm.id, ['DONE', 'FAILED']);
    expect(job.state).toBe('DONE');
    expect((await jobServers(dst, job.id)).length).toBe(1);
    const { cloneJobs } = await gqlOk(url, fx.tenant.token, `{ cloneJobs(first: 200) { nodes { idempotencyKey } } }`);
    expect(cloneJobs.nodes.filter((n: { idempotencyKey: string }) => n.idempotencyKey === input.idempotencyKey).length).toBe(1);
  });

  it("does not hand back a FAILED job for its idempotency key as if the clone were under way", async () => {
    const { vmId } = await fx.importNewVm();
    await sandbox.cloud('clone-dst').control.injectFault({ operation: 'nova.server.create', mode: 'fail', status: 400 });
    const input = { vmId, targetCloudId: fx.targetCloudId, idempotencyKey: `failed-${crypto.randomUUID()}` };
    const { cloneVm } = await gqlOk(url, fx.tenant.token, CLONE, { input });
    expect((await waitForJobState(url, fx.tenant.token, cloneVm.id, ['DONE', 'FAILED'])).state).toBe('FAILED');
    const err = await gqlError(url, fx.tenant.token, CLONE, { input });
    expect(err.extensions).toMatchObject({ code: 'CONFLICT', field: 'input.idempotencyKey' });
    expect(err.message).toContain(`job ${cloneVm.id}, which ended FAILED`);
    expect(err.message).toContain('use a new idempotencyKey');
  });

  it('retries transient cloud failures and still finishes with one image and one server', async () => {
    const { vmId } = await fx.importNewVm();
    const dstCloud = sandbox.cloud('clone-dst');
    await dstCloud.control.resetCalls();
    await dstCloud.control.injectFault({ operation: 'glance.image.upload', mode: 'fail', status: 503, count: 1 });
    await dstCloud.control.injectFault({ operation: 'nova.server.create', mode: 'fail', status: 503, count: 2 });
    const { cloneVm } = await gqlOk(url, fx.tenant.token, CLONE, { input: { vmId, targetCloudId: fx.targetCloudId } });
    const job = await waitForJobState(url, fx.tenant.token, cloneVm.id, ['DONE', 'FAILED'], 120_000);
    expect(job.error).toBeNull();
    expect(job.state).toBe('DONE');
    const calls = await dstCloud.control.calls();
    expect(calls['glance.image.upload']).toBeGreaterThanOrEqual(2);
    expect(calls['nova.server.create']).toBeGreaterThanOrEqual(3);
    expect((await jobImages(dst, job.id)).length).toBe(1);
    expect((await jobServers(dst, job.id)).length).toBe(1);
  });

  it('undoes everything and ends FAILED when a step keeps failing', async () => {
    const { vmId } = await fx.importNewVm();
    await sandbox.cloud('clone-dst').control.injectFault({ operation: 'neutron.floatingip.create', mode: 'fail', status: 503, count: 'always' });
    const { cloneVm } = await gqlOk(url, fx.tenant.token, CLONE, { input: { vmId, targetCloudId: fx.targetCloudId } });
    const job = await waitForJobState(url, fx.tenant.token, cloneVm.id, ['DONE', 'FAILED'], 120_000);
    expect(job.state).toBe('FAILED');
    expect(job.phase).toBe('FAILED');
    expect(job.error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(job.error.message).toContain('neutron');
    expect(job.error.message).toContain('clone-dst');
    await sandbox.cloud('clone-dst').control.clearFaults();
    // Nothing the job made is left: no server, no target image, no source snapshot.
    expect(await jobServers(dst, job.id)).toEqual([]);
    expect(await jobImages(dst, job.id)).toEqual([]);
    expect(await jobImages(src, job.id)).toEqual([]);
    expect(job.resultVm).toBeNull();
  });

  it('fails with CHECKSUM_MISMATCH when the bytes read differ from the source image hash, and undoes', async () => {
    const { vmId } = await fx.importNewVm();
    const srcCloud = sandbox.cloud('clone-src');
    // Hold the download, corrupt the stored snapshot (bit rot in the source store), then let it go.
    await srcCloud.control.injectFault({ operation: 'glance.image.download', mode: 'hang', hangMs: 60_000 });
    const { cloneVm } = await gqlOk(url, fx.tenant.token, CLONE, { input: { vmId, targetCloudId: fx.targetCloudId } });
    await waitForJobPhase(url, fx.tenant.token, cloneVm.id, 'TRANSFER');
    const [snapshot] = await jobImages(src, cloneVm.id);
    const file = findImageFile(srcCloud.config.dataDir, snapshot.id);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from('corrupted!'), 0, 10, 100);
    fs.closeSync(fd);
    await srcCloud.control.clearFaults();
    const job = await waitForJobState(url, fx.tenant.token, cloneVm.id, ['DONE', 'FAILED']);
    expect(job.state).toBe('FAILED');
    expect(job.error.code).toBe('CHECKSUM_MISMATCH');
    expect(await jobImages(dst, job.id)).toEqual([]);
    expect(await jobServers(dst, job.id)).toEqual([]);
    expect(await jobImages(src, job.id)).toEqual([]);
  });

  it('cancels at the next safe point and undoes what the job made', async () => {
    const { vmId } = await fx.importNewVm();
    await sandbox.cloud('clone-dst').control.injectFault({ operation: 'nova.server.create', mode: 'hang', hangMs: 60_000 });
    const { cloneVm } = await gqlOk(url, fx.tenant.token, CLONE, { input: { vmId, targetCloudId: fx.targetCloudId } });
    await waitForJobPhase(url, fx.tenant.token, cloneVm.id, 'BOOT');
    const { cancelCloneJob } = await gqlOk(url, fx.tenant.token, `mutation($id: ID!) { cancelCloneJob(id: $id) { state } }`, { id: cloneVm.id });
    expect(cancelCloneJob.state).toBe('CANCELLING');
    await sandbox.cloud('clone-dst').control.clearFaults();
    const job = await waitForJobState(url, fx.tenant.token, cloneVm.id, ['CANCELLED', 'DONE', 'FAILED']);
    expect(job.state).toBe('CANCELLED');
    expect(job.phase).toBe('CANCELLED');
    const deadline = Date.now() + 10_000;
    while ((await jobServers(dst, job.id)).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await jobServers(dst, job.id)).toEqual([]);
    expect(await jobImages(dst, job.id)).toEqual([]);
    expect(await jobImages(src, job.id)).toEqual([]);
  });

  it('replays the events a subscriber missed after a reconnect, with no gap and no duplicate', async () => {
    const { vmId } = await fx.importNewVm();
    const { cloneVm } = await gqlOk(url, fx.tenant.token, CLONE, { input: { vmId, targetCloudId: fx.targetCloudId } });
    const first = wsClient(url, fx.tenant.token);
    const part = collect<{ cloneJobEvents: { seq: number } }>(first, EVENTS, { id: cloneVm.id, after: 0 }, 3);
    const firstSeqs = (await part.done).map((e) => e.cloneJobEvents.seq);
    await first.dispose();
    await waitForJobState(url, fx.tenant.token, cloneVm.id, ['DONE', 'FAILED']);
    const second = wsClient(url, fx.tenant.token);
    try {
      const total = Number((await broker.dataSource.query(`SELECT last_seq FROM event_streams WHERE stream = $1`, [`clone-job:${cloneVm.id}`]))[0].last_seq);
      const rest = collect<{ cloneJobEvents: { seq: number; kind: string } }>(second, EVENTS, { id: cloneVm.id, after: firstSeqs.at(-1) }, total - firstSeqs.length);
      const restSeqs = (await rest.done).map((e) => e.cloneJobEvents.seq);
      expect([...firstSeqs, ...restSeqs]).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      expect((await rest.done).at(-1)!.cloneJobEvents.kind).toBe('DONE');
    } finally {
      await second.dispose();
    }
  });

  it('completes cloneJobEvents after the terminal event: live, on replay, and at once after the last event', async () => {
    const seqs = (events: { cloneJobEvents: { seq: number } }[]) => events.map((e) => e.cloneJobEvents.seq);
    const client = wsClient(url, fx.tenant.token);
    try {
      const { vmId } = await fx.importNewVm();
      const { cloneVm } = await gqlOk(url, fx.tenant.token, CLONE, { input: { vmId, targetCloudId: fx.targetCloudId } });
      const live = await untilComplete<{ cloneJobEvents: { seq: number; kind: string } }>(client, EVENTS, { id: cloneVm.id, after: 0 });
      expect(live.at(-1)!.cloneJobEvents.kind).toBe('DONE');
      expect(seqs(live)).toEqual(live.map((_, i) => i + 1));
      const replayed = await untilComplete<{ cloneJobEvents: { seq: number } }>(client, EVENTS, { id: cloneVm.id, after: 0 });
      expect(seqs(replayed)).toEqual(seqs(live));
      expect(await untilComplete(client, EVENTS, { id: cloneVm.id, after: live.at(-1)!.cloneJobEvents.seq })).toEqual([]);
      // A job that fails completes too.
      const failing = await fx.importNewVm();
      await sandbox.cloud('clone-dst').control.injectFault({ operation: 'nova.server.create', mode: 'fail', status: 400 });
      const { cloneVm: failed } = await gqlOk(url, fx.tenant.token, CLONE, { input: { vmId: failing.vmId, targetCloudId: fx.targetCloudId } });
      const ended = await untilComplete<{ cloneJobEvents: { kind: string } }>(client, EVENTS, { id: failed.id, after: 0 });
      expect(ended.at(-1)!.cloneJobEvents.kind).toBe('FAILED');
    } finally {
      await client.dispose();
    }
  });

  it('streams every job of the tenant on cloneJobUpdates, and nothing of other tenants', async () => {
    const client = wsClient(url, fx.tenant.token);
    try {
      const sub = collect<{ cloneJobUpdates: { jobId: string; kind: string } }>(client, `subscription { cloneJobUpdates { jobId kind phase } }`, {}, 1000, 60_000);
      await new Promise((r) => setTimeout(r, 300));
      const { vmId } = await fx.importNewVm();
      const { cloneVm } = await gqlOk(url, fx.tenant.token, CLONE, { input: { vmId, targetCloudId: fx.sourceCloudId } });
      await waitForJobState(url, fx.tenant.token, cloneVm.id, ['DONE', 'FAILED']);
      const deadline = Date.now() + 10_000;
      while (!sub.received.some((e) => e.cloneJobUpdates.kind === 'DONE') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      sub.stop();
      expect(sub.received.length).toBeGreaterThan(3);
      expect(new Set(sub.received.map((e) => e.cloneJobUpdates.jobId))).toEqual(new Set([cloneVm.id]));
    } finally {
      await client.dispose();
    }
  });

  it('replays cloneJobUpdates from afterSeq across the tenant\'s jobs: a dense updateSeq, each job\'s own seq, nothing twice', async () => {
    type Update = { cloneJobUpdates: { updateSeq: number; seq: number; jobId: string; kind: string } };
    const UPDATES = `subscription($a: Int) { cloneJobUpdates(afterSeq: $a) { updateSeq seq jobId kind } }`;
    // Two jobs at once, so their events interleave on the tenant's stream.
    const jobs = await Promise.all(
      [0, 1].map(async () => {
        const { vmId } = await fx.importNewVm();
        return (await gqlOk(url, fx.tenant.token, CLONE, { input: { vmId, targetCloudId: fx.sourceCloudId } })).cloneVm.id as string;
      }),
    );
    for (const id of jobs) await waitForJobState(url, fx.tenant.token, id, ['DONE', 'FAILED']);
    const client = wsClient(url, fx.tenant.token);
    try {
      const replayUntil = async (afterSeq: number, last: (u: Update['cloneJobUpdates'][]) => boolean) => {
        const sub = collect<Update>(client, UPDATES, { a: afterSeq }, 100_000, 60_000);
        const deadline = Date.now() + 30_000;
        while (!last(sub.received.map((e) => e.cloneJobUpdates)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        sub.stop();
        return sub.received.map((e) => e.cloneJobUpdates);
      };
      const bothDone = (u: Update['cloneJobUpdates'][]) => jobs.every((id) => u.some((e) => e.jobId === id && e.kind === 'DONE'));
      const all = await replayUntil(0, bothDone);
      expect(all.map((e) => e.updateSeq)).toEqual(all.map((_, i) => i + 1));
      for (const id of jobs) {
        const ofJob = all.filter((e) => e.jobId === id);
        // The job's own numbering, as cloneJobEvents gives it.
        expect(ofJob.map((e) => e.seq)).toEqual(ofJob.map((_, i) => i + 1));
        const replayed = await untilComplete<{ cloneJobEvents: { seq: number; kind: string } }>(client, `subscription($id: ID!) { cloneJobEvents(jobId: $id, afterSeq: 0) { seq kind } }`, { id });
        expect(ofJob.map((e) => [e.seq, e.kind])).toEqual(replayed.map((e) => [e.cloneJobEvents.seq, e.cloneJobEvents.kind]));
      }
      // A consumer that saw up to the middle resumes there and gets exactly the rest.
      const middle = all[Math.floor(all.length / 2)].updateSeq;
      const rest = await replayUntil(middle, (u) => u.some((e) => e.updateSeq === all.at(-1)!.updateSeq));
      expect(rest.map((e) => e.updateSeq)).toEqual(all.filter((e) => e.updateSeq > middle).map((e) => e.updateSeq));
      await expect(collect(client, UPDATES, { a: -1 }, 1, 15_000).done).rejects.toThrow(/"code":"BAD_USER_INPUT","field":"afterSeq"/);
    } finally {
      await client.dispose();
    }
  });

  it('validates cloneVm input and keeps tenants apart', async () => {
    const { vmId } = await fx.importNewVm();
    expect((await gqlError(url, fx.tenant.token, CLONE, { input: { vmId: 'x' } })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.vmId' });
    expect((await gqlError(url, fx.tenant.token, CLONE, { input: { vmId, targetCloudId: fx.targetCloudId, name: 'bad name!' } })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.name' });
    expect((await gqlError(url, fx.tenant.token, CLONE, { input: { vmId, targetCloudId: crypto.randomUUID() } })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.targetCloudId' });
    const other = await setUpClone(url, broker.adminToken, sandbox, factory, 'clone-src', 'clone-dst');
    expect((await gqlError(url, other.tenant.token, CLONE, { input: { vmId, targetCloudId: other.targetCloudId } })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.vmId' });
    expect((await gqlError(url, other.tenant.token, CLONE, { input: { vmId: (await other.importNewVm()).vmId, targetCloudId: fx.targetCloudId } })).extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.targetCloudId',
    });
  });
});

function findImageFile(dir: string, imageId: string): string {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const found = findImageFile(p, imageId);
      if (found) return found;
    } else if (entry.name === imageId) return p;
  }
  return '';
}
