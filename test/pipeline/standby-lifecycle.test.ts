/**
 * Standby images after they are made, through the GraphQL API against two sandbox clouds on real
 * PostgreSQL: listed with their age, state and filters (a tenant never sees another's), kept
 * fresh by the leader's refresher (its run() driven here, as the scheduler would), released
 * (deleted in the target cloud at once), and audited. Times are moved in the database instead
 * of waiting for a TTL to pass.
 */
import { Client } from 'pg';
import pino from 'pino';
import { Sandbox } from '../../sandbox';
import { OpenStackCloudApiFactory } from '../../src/adapters/openstack/openstack-cloud-api.factory';
import { AUTOSCALER_TOKEN_ID } from '../../src/domain/principal';
import { CloudApi } from '../../src/ports/cloud-api.port';
import { StandbyRefresher } from '../../src/scheduler/standby-refresher';
import { startTestBroker, TestBroker } from '../support/broker';
import { CloneFixture, setUpClone, waitForJobState } from '../support/clone-fixture';
import { createTestDatabase, TestDatabase } from '../support/database';
import { gqlError, gqlOk } from '../support/graphql';
import { labCloudApiFactory, sandboxApi, startSandboxClouds } from '../support/sandbox';

const TTL_SECONDS = 600;
const STANDBY = `id vmTypeId cloudId imageId sourceVmId createdByJobId createdAt expiresAt deletedAt keepFresh ageSeconds fresh state refreshAt vmType { id name } cloud { id }`;
const LIST = `query($t: ID, $c: ID, $x: Boolean, $n: Int) { standbyImages(vmTypeId: $t, cloudId: $c, includeExpired: $x, first: $n) { ${STANDBY} } }`;
const PREPARE = `mutation($t: ID!, $c: ID!, $k: Boolean) { prepareStandby(vmTypeId: $t, cloudId: $c, keepFresh: $k) { id state keepFresh standbyImage { ${STANDBY} } } }`;
const RELEASE = `mutation($id: ID!) { releaseStandby(id: $id) { ${STANDBY} } }`;
const JOB = `query($id: ID!) { cloneJob(id: $id) { id state standbyImage { ${STANDBY} } } }`;

type Standby = Record<string, any>;

describe('standby images: list, keep fresh, release', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let sandbox: Sandbox;
  let factory: OpenStackCloudApiFactory;
  let url: string;
  let a: CloneFixture;
  let b: CloneFixture;
  let dst: CloudApi;
  let pg: Client;
  let refresher: StandbyRefresher;

  beforeAll(async () => {
    sandbox = await startSandboxClouds('life-src', 'life-dst');
    for (const c of sandbox.clouds) await c.control.setQuotas({ instances: 200, cores: 400, ramMb: 400_000 });
    factory = labCloudApiFactory();
    db = await createTestDatabase();
    // The broker's own refresher and reaper run once at start-up, then not within this test: it drives them.
    broker = await startTestBroker(db.url, { STANDBY_IMAGE_TTL_SECONDS: String(TTL_SECONDS), STANDBY_REFRESH_INTERVAL_SECONDS: '3600', CLONE_REAPER_INTERVAL_SECONDS: '3600' });
    url = broker.url;
    a = await setUpClone(url, broker.adminToken, sandbox, factory, 'life-src', 'life-dst');
    b = await setUpClone(url, broker.adminToken, sandbox, factory, 'life-src', 'life-dst');
    dst = sandboxApi(factory, sandbox.cloud('life-dst'));
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    refresher = new StandbyRefresher(broker.services.standbyImages, pino({ level: 'silent' }), 3_600_000);
  });

  afterAll(async () => {
    await pg?.end();
    await broker?.stop();
    await db?.drop();
    await factory?.close();
    await sandbox?.stop();
  });

  const list = async (fx: CloneFixture, vars: Record<string, unknown> = {}): Promise<Standby[]> => (await gqlOk(url, fx.tenant.token, LIST, vars)).standbyImages;
  const isGone = (image: { status: string } | null) => image === null || image.status === 'deleted';
  /** Prepares a standby of the fixture's type in its target cloud and waits until it is made. */
  const prepared = async (fx: CloneFixture, keepFresh?: boolean): Promise<Standby> => {
    const { prepareStandby } = await gqlOk(url, fx.tenant.token, PREPARE, { t: fx.vmTypeId, c: fx.targetCloudId, k: keepFresh });
    const done = await waitForJobState(url, fx.tenant.token, prepareStandby.id, ['DONE', 'FAILED']);
    expect(done.error).toBeNull();
    return (await gqlOk(url, fx.tenant.token, JOB, { id: prepareStandby.id })).cloneJob.standbyImage;
  };
  const standbyJobs = async (vmTypeId: string): Promise<{ id: string; state: string; keep_fresh: boolean }[]> =>
    (
      await pg.query(
        `SELECT j.id, j.state, j.keep_fresh FROM clone_jobs j JOIN vms v ON v.id = j.source_vm_id WHERE v.vm_type_id = $1 AND j.purpose = 'STANDBY' ORDER BY j.created_at`,
        [vmTypeId],
      )
    ).rows;
  const audit = async (tenantId: string, action: string): Promise<{ actor_token_id: string | null; object_id: string; details: Record<string, any> }[]> =>
    (await pg.query(`SELECT actor_token_id, object_id, details FROM audit_log WHERE tenant_id = $1 AND action = $2 ORDER BY seq`, [tenantId, action])).rows;

  let first: Standby;

  it('lists the fresh standby images of the tenant with age, expiry and state; filters; another tenant never sees them', async () => {
    const { vmId } = await a.importNewVm('life-a');
    await b.importNewVm('life-b');
    first = await prepared(a);
    const other = await prepared(b);

    const [listed, ...more] = await list(a);
    expect(more).toEqual([]);
    expect(listed).toMatchObject({
      id: first.id,
      vmType: { id: a.vmTypeId, name: 'opensips' },
      cloud: { id: a.targetCloudId },
      sourceVmId: vmId,
      imageId: first.imageId,
      fresh: true,
      state: 'FRESH',
      keepFresh: false,
      refreshAt: null,
      deletedAt: null,
    });
    expect((await dst.getImage(first.imageId))?.status).toBe('active');
    // Age counts from when it was made (moved two minutes back rather than waited for).
    await pg.query(`UPDATE standby_images SET created_at = created_at - interval '120 seconds' WHERE id = $1`, [first.id]);
    const [aged] = await list(a);
    expect(aged.ageSeconds).toBeGreaterThanOrEqual(120);
    expect(aged.ageSeconds).toBeLessThan(120 + TTL_SECONDS);

    // Filters.
    expect((await list(a, { t: a.vmTypeId })).map((s) => s.id)).toEqual([first.id]);
    expect((await list(a, { c: a.targetCloudId })).map((s) => s.id)).toEqual([first.id]);
    expect(await list(a, { c: a.sourceCloudId })).toEqual([]);
    expect(await list(a, { t: '00000000-0000-4000-8000-000000000000' })).toEqual([]);
    expect(await gqlError(url, a.tenant.token, LIST, { t: 'nope' })).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'vmTypeId' } });
    expect(await gqlError(url, a.tenant.token, LIST, { c: 'nope' })).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'cloudId' } });
    expect(await gqlError(url, a.tenant.token, LIST, { n: 0 })).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'first' } });

    // Tenancy: B sees its own only, also with includeExpired and A's filters; A's standby is not B's to release.
    expect((await list(b, { x: true })).map((s) => s.id)).toEqual([other.id]);
    expect(await list(b, { t: a.vmTypeId, x: true })).toEqual([]);
    expect((await list(a, { x: true })).map((s) => s.id)).toEqual([first.id]);
    expect(await gqlError(url, b.tenant.token, RELEASE, { id: first.id })).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'id' } });
    expect(await gqlError(url, b.tenant.token, PREPARE, { t: a.vmTypeId, c: b.targetCloudId, k: true })).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'vmTypeId' } });
    expect((await list(a))[0]).toMatchObject({ id: first.id, state: 'FRESH', keepFresh: false });

    // Expired: out of the default list, in the includeExpired one as EXPIRED until deleted.
    await pg.query(`UPDATE standby_images SET expires_at = now() - interval '1 second' WHERE id = $1`, [first.id]);
    expect(await list(a)).toEqual([]);
    expect(await list(a, { x: true })).toEqual([expect.objectContaining({ id: first.id, fresh: false, state: 'EXPIRED', deletedAt: null })]);
  });

  let kept: Standby;
  let successor: Standby;

  it('keeps a standby fresh: the refresher prepares a successor when a quarter of its lifetime is left, acting as the scheduler; the old one expires as usual', async () => {
    kept = await prepared(a, true);
    expect(kept).toMatchObject({ keepFresh: true, state: 'FRESH' });
    const lifetimeMs = Date.parse(kept.expiresAt) - Date.parse(kept.createdAt);
    expect(Math.abs(Date.parse(kept.expiresAt) - Date.parse(kept.refreshAt) - lifetimeMs / 4)).toBeLessThanOrEqual(1);
    const before = await standbyJobs(a.vmTypeId);

    // Not due yet: nothing to do.
    await refresher.run();
    expect(await standbyJobs(a.vmTypeId)).toEqual(before);

    // Due: 100 s of its 600 s left, under the quarter.
    await pg.query(`UPDATE standby_images SET created_at = now() - interval '500 seconds', expires_at = now() + interval '100 seconds' WHERE id = $1`, [kept.id]);
    await refresher.run();
    const after = await standbyJobs(a.vmTypeId);
    expect(after).toHaveLength(before.length + 1);
    const refresh = after.at(-1)!;
    expect(refresh.keep_fresh).toBe(true);
    // A second round while it runs starts nothing more.
    await refresher.run();
    expect(await standbyJobs(a.vmTypeId)).toHaveLength(after.length);

    expect((await waitForJobState(url, a.tenant.token, refresh.id, ['DONE', 'FAILED'])).state).toBe('DONE');
    successor = (await gqlOk(url, a.tenant.token, JOB, { id: refresh.id })).cloneJob.standbyImage;
    expect(successor).toMatchObject({ keepFresh: true, state: 'FRESH', cloud: { id: a.targetCloudId }, vmType: { id: a.vmTypeId } });
    expect(successor.imageId).not.toBe(kept.imageId);
    // Both are fresh: the old one is no longer kept fresh and expires at its own time.
    const fresh = await list(a, { t: a.vmTypeId, c: a.targetCloudId });
    expect(fresh.map((s) => [s.id, s.keepFresh, s.state])).toEqual([
      [successor.id, true, 'FRESH'],
      [kept.id, false, 'FRESH'],
    ]);
    // The scheduler acted, and the audit log says so and what it replaced.
    const [entry] = (await audit(a.tenant.tenantId, 'cloneJob.prepareStandby')).filter((e) => e.object_id === refresh.id);
    expect(entry).toMatchObject({ actor_token_id: AUTOSCALER_TOKEN_ID, details: { keepFresh: true, replacesStandbyImageId: kept.id, targetCloudId: a.targetCloudId } });
    // The successor is not due, so the refresher is quiet again.
    await refresher.run();
    expect(await standbyJobs(a.vmTypeId)).toHaveLength(after.length);

    // The old one expires as usual (the reaper's round, driven here): deleted in the cloud; the successor stays.
    await pg.query(`UPDATE standby_images SET expires_at = now() - interval '1 second' WHERE id = $1`, [kept.id]);
    // A delete the cloud refuses leaves the standby EXPIRED, not DELETED, and the next round tries again.
    const fault = await sandbox.cloud('life-dst').control.injectFault({ operation: 'glance.image.delete', mode: 'fail', status: 403, count: 'always' });
    expect(await broker.services.standbyImages.expireDue(null, null)).toEqual([]);
    expect((await dst.getImage(kept.imageId))?.status).toBe('active');
    expect((await list(a, { x: true })).find((s) => s.id === kept.id)).toMatchObject({ state: 'EXPIRED', deletedAt: null });
    await sandbox.cloud('life-dst').control.clearFaults(fault.id);
    const expired = await broker.services.standbyImages.expireDue(null, null);
    expect(expired.map((e) => [e.standby.id, e.imageDeleted]).sort()).toEqual([[first.id, true], [kept.id, true]].sort());
    expect(isGone(await dst.getImage(kept.imageId))).toBe(true);
    expect(isGone(await dst.getImage(first.imageId))).toBe(true);
    expect((await dst.getImage(successor.imageId))?.status).toBe('active');
    const all = await list(a, { x: true });
    expect(all.find((s) => s.id === kept.id)).toMatchObject({ state: 'DELETED', fresh: false });
    expect(all.find((s) => s.id === successor.id)).toMatchObject({ state: 'FRESH', keepFresh: true });
    expect((await audit(a.tenant.tenantId, 'standbyImage.expire')).find((e) => e.details.standbyImageId === kept.id)).toMatchObject({ actor_token_id: null, details: { imageDeleted: true } });
  });

  it('keepFresh asked of a standby already there keeps that one fresh instead of preparing another', async () => {
    const [theirs] = await list(b);
    const before = await standbyJobs(b.vmTypeId);
    const { prepareStandby } = await gqlOk(url, b.tenant.token, PREPARE, { t: b.vmTypeId, c: b.targetCloudId, k: true });
    expect(prepareStandby.id).toBe(theirs.createdByJobId);
    expect(prepareStandby.standbyImage).toMatchObject({ id: theirs.id, keepFresh: true });
    expect(await standbyJobs(b.vmTypeId)).toEqual(before);
    expect(await audit(b.tenant.tenantId, 'standbyImage.keepFresh')).toEqual([expect.objectContaining({ object_id: theirs.createdByJobId })]);
  });

  it('releaseStandby stops keeping it fresh and deletes the image in the cloud now; bad ids name the field', async () => {
    const { releaseStandby } = await gqlOk(url, a.tenant.token, RELEASE, { id: successor.id });
    expect(releaseStandby).toMatchObject({ id: successor.id, keepFresh: false, fresh: false, state: 'DELETED', refreshAt: null });
    expect(releaseStandby.deletedAt).not.toBeNull();
    expect(isGone(await dst.getImage(successor.imageId))).toBe(true);
    expect(await list(a)).toEqual([]);
    // Nothing is kept fresh any more, so the refresher prepares nothing.
    const jobs = await standbyJobs(a.vmTypeId);
    await refresher.run();
    expect(await standbyJobs(a.vmTypeId)).toEqual(jobs);
    // Audited by the caller's token: the release, then the expiry it caused.
    const [release, ...more] = await audit(a.tenant.tenantId, 'standbyImage.release');
    expect(more).toEqual([]);
    expect(release).toMatchObject({ object_id: successor.createdByJobId, details: { standbyImageId: successor.id, wasKeptFresh: true } });
    expect(release.actor_token_id).toEqual(expect.any(String));
    expect(release.actor_token_id).not.toBe(AUTOSCALER_TOKEN_ID);
    expect((await audit(a.tenant.tenantId, 'standbyImage.expire')).find((e) => e.details.standbyImageId === successor.id)).toMatchObject({
      actor_token_id: release.actor_token_id,
      details: { imageDeleted: true },
    });
    // Released again: answered as it is.
    expect((await gqlOk(url, a.tenant.token, RELEASE, { id: successor.id })).releaseStandby).toMatchObject({ id: successor.id, state: 'DELETED' });

    expect(await gqlError(url, a.tenant.token, RELEASE, { id: 'nope' })).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'id' } });
    expect(await gqlError(url, a.tenant.token, RELEASE, { id: '00000000-0000-4000-8000-000000000000' })).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'id' } });
  });
});
