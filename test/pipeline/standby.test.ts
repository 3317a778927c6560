/**
 * Standby images (prepareStandby) end to end through the GraphQL API against two sandbox clouds:
 * a STANDBY job stops after IMPORT keeping the image; a later clone of the type into that cloud
 * boots from it without SNAPSHOT, TRANSFER or IMPORT; an expired standby is not used and the
 * leader's reaper deletes it from the cloud.
 */
import { Client } from 'pg';
import { Sandbox } from '../../sandbox';
import { OpenStackCloudApiFactory } from '../../src/adapters/openstack/openstack-cloud-api.factory';
import { CloudApi } from '../../src/ports/cloud-api.port';
import { startTestBroker, TestBroker } from '../support/broker';
import { CLONE_JOB_FIELDS, CloneFixture, setUpClone, waitForJobState } from '../support/clone-fixture';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlError, gqlOk } from '../support/graphql';
import { labCloudApiFactory, sandboxApi, startSandboxClouds } from '../support/sandbox';

const STANDBY_FIELDS = `purpose standbyImage { id vmTypeId cloudId imageId sourceVmId createdByJobId createdAt expiresAt deletedAt }`;
const PREPARE = `mutation($t: ID!, $c: ID!) { prepareStandby(vmTypeId: $t, cloudId: $c) { ${CLONE_JOB_FIELDS} ${STANDBY_FIELDS} } }`;
const CLONE = `mutation($input: CloneVmInput!) { cloneVm(input: $input) { ${CLONE_JOB_FIELDS} ${STANDBY_FIELDS} } }`;
const JOB = `query($id: ID!) { cloneJob(id: $id) { ${CLONE_JOB_FIELDS} ${STANDBY_FIELDS} } }`;
const TTL_SECONDS = 600;

describe('standby images', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let sandbox: Sandbox;
  let factory: OpenStackCloudApiFactory;
  let url: string;
  let fx: CloneFixture;
  let src: CloudApi;
  let dst: CloudApi;
  let pg: Client;

  beforeAll(async () => {
    sandbox = await startSandboxClouds('standby-src', 'standby-dst');
    for (const c of sandbox.clouds) await c.control.setQuotas({ instances: 200, cores: 400, ramMb: 400_000 });
    factory = labCloudApiFactory();
    db = await createTestDatabase();
    broker = await startTestBroker(db.url, { STANDBY_IMAGE_TTL_SECONDS: String(TTL_SECONDS), CLONE_REAPER_INTERVAL_SECONDS: '1' });
    url = broker.url;
    fx = await setUpClone(url, broker.adminToken, sandbox, factory, 'standby-src', 'standby-dst');
    src = sandboxApi(factory, sandbox.cloud('standby-src'));
    dst = sandboxApi(factory, sandbox.cloud('standby-dst'));
    pg = new Client({ connectionString: db.url });
    await pg.connect();
  });

  afterAll(async () => {
    await pg?.end();
    await broker?.stop();
    await db?.drop();
    await factory?.close();
    await sandbox?.stop();
  });

  const isGone = (image: { status: string } | null) => image === null || image.status === 'deleted';
  const phasesOf = (job: Record<string, any>) => (job.phases as { phase: string }[]).map((p) => p.phase);
  const jobImages = (api: CloudApi, jobId: string) => api.listImages({ properties: { intercloud_job: jobId } });
  const messages = async (jobId: string) => {
    const rows = await pg.query(`SELECT payload FROM events WHERE stream = $1 ORDER BY seq`, [`clone-job:${jobId}`]);
    return rows.rows.map((r: { payload: { kind: string; phase: string; message: string | null } }) => r.payload);
  };

  it('refuses bad input naming the field', async () => {
    expect(await gqlError(url, fx.tenant.token, PREPARE, { t: 'nope', c: fx.targetCloudId })).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'vmTypeId' } });
    expect(await gqlError(url, fx.tenant.token, PREPARE, { t: fx.vmTypeId, c: '00000000-0000-4000-8000-000000000000' })).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'cloudId' } });
  });

  it('prepares a standby image, then a clone of the type boots from it without SNAPSHOT, TRANSFER or IMPORT; an expired one is not used and is deleted', async () => {
    const { vmId } = await fx.importNewVm('sip-standby');
    const { prepareStandby } = await gqlOk(url, fx.tenant.token, PREPARE, { t: fx.vmTypeId, c: fx.targetCloudId });
    expect(prepareStandby).toMatchObject({ purpose: 'STANDBY', sourceVm: { id: vmId }, targetCloud: { id: fx.targetCloudId } });
    // Asked again while in flight: the same job, not a second prepare.
    const again = await gqlOk(url, fx.tenant.token, PREPARE, { t: fx.vmTypeId, c: fx.targetCloudId });
    expect(again.prepareStandby.id).toBe(prepareStandby.id);

    const prepared = await waitForJobState(url, fx.tenant.token, prepareStandby.id, ['DONE', 'FAILED']);
    expect(prepared.error).toBeNull();
    expect(prepared.state).toBe('DONE');
    expect(phasesOf(prepared)).toEqual(['SNAPSHOT', 'TRANSFER', 'IMPORT']);
    expect(prepared.resultVm).toBeNull();
    const { cloneJob: standbyJob } = await gqlOk(url, fx.tenant.token, JOB, { id: prepared.id });
    const standby = standbyJob.standbyImage;
    expect(standby).toMatchObject({ vmTypeId: fx.vmTypeId, cloudId: fx.targetCloudId, sourceVmId: vmId, createdByJobId: prepared.id, deletedAt: null });
    expect(Math.round((Date.parse(standby.expiresAt) - Date.parse(standby.createdAt)) / 1000)).toBeGreaterThanOrEqual(TTL_SECONDS - 5);
    expect(Math.round((Date.parse(standby.expiresAt) - Date.parse(standby.createdAt)) / 1000)).toBeLessThanOrEqual(TTL_SECONDS + 5);
    // The image is kept in the target cloud; the source snapshot is gone; no server was made.
    const [image, ...more] = await jobImages(dst, prepared.id);
    expect(more).toEqual([]);
    expect(image).toMatchObject({ id: standby.imageId, status: 'active' });
    expect(await jobImages(src, prepared.id)).toEqual([]);
    expect((await dst.listServers()).filter((s) => s.metadata.intercloud_job === prepared.id)).toEqual([]);
    // With a fresh standby, prepareStandby answers with the job that made it.
    expect((await gqlOk(url, fx.tenant.token, PREPARE, { t: fx.vmTypeId, c: fx.targetCloudId })).prepareStandby.id).toBe(prepared.id);

    // A clone of the type into that cloud boots from it.
    const { cloneVm } = await gqlOk(url, fx.tenant.token, CLONE, { input: { vmId, targetCloudId: fx.targetCloudId } });
    expect(cloneVm).toMatchObject({ purpose: 'CLONE', standbyImage: { id: standby.id, imageId: standby.imageId } });
    const fast = await waitForJobState(url, fx.tenant.token, cloneVm.id, ['DONE', 'FAILED']);
    expect(fast.error).toBeNull();
    expect(fast.state).toBe('DONE');
    expect(phasesOf(fast)).toEqual(['BOOT', 'NETWORK']);
    expect(fast.bytesTransferred).toBe(0);
    const server = await dst.getServer(fast.resultVm.serverId);
    expect(server!.imageId).toBe(standby.imageId);
    const [queued] = await messages(fast.id);
    expect(queued).toMatchObject({ kind: 'PHASE_STARTED', phase: 'QUEUED' });
    expect(queued.message).toContain(`boots from standby image ${standby.imageId}`);
    expect(queued.message).toContain('SNAPSHOT, TRANSFER and IMPORT skipped');
    expect((await messages(fast.id)).filter((e) => ['SNAPSHOT', 'TRANSFER', 'IMPORT'].includes(e.phase))).toEqual([]);
    // Kept for reuse until it expires (images are immutable): a second clone uses it too.
    const second = await gqlOk(url, fx.tenant.token, CLONE, { input: { vmId, targetCloudId: fx.targetCloudId } });
    expect(second.cloneVm.standbyImage).toMatchObject({ id: standby.id });
    expect(phasesOf(await waitForJobState(url, fx.tenant.token, second.cloneVm.id, ['DONE', 'FAILED']))).toEqual(['BOOT', 'NETWORK']);

    // Expired (its expiry moved into the past instead of waiting TTL_SECONDS): not used, and the reaper deletes it.
    await pg.query(`UPDATE standby_images SET expires_at = now() - interval '1 second' WHERE id = $1`, [standby.id]);
    const full = await gqlOk(url, fx.tenant.token, CLONE, { input: { vmId, targetCloudId: fx.targetCloudId } });
    expect(full.cloneVm.standbyImage).toBeNull();
    const slow = await waitForJobState(url, fx.tenant.token, full.cloneVm.id, ['DONE', 'FAILED']);
    expect(slow.state).toBe('DONE');
    expect(phasesOf(slow)).toEqual(['SNAPSHOT', 'TRANSFER', 'IMPORT', 'BOOT', 'NETWORK']);
    const deadline = Date.now() + 30_000;
    let gone: { deletedAt: string | null } = standby;
    while (Date.now() < deadline) {
      gone = (await gqlOk(url, fx.tenant.token, JOB, { id: prepared.id })).cloneJob.standbyImage;
      if (gone.deletedAt && isGone(await dst.getImage(standby.imageId))) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(gone.deletedAt).not.toBeNull();
    expect(isGone(await dst.getImage(standby.imageId))).toBe(true);
    // Expired and deleted, it no longer stops a new prepare.
    const fresh = await gqlOk(url, fx.tenant.token, PREPARE, { t: fx.vmTypeId, c: fx.targetCloudId });
    expect(fresh.prepareStandby.id).not.toBe(prepared.id);
    await waitForJobState(url, fx.tenant.token, fresh.prepareStandby.id, ['DONE', 'FAILED']);
  });
});
