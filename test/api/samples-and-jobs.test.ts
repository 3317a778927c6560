/** Pushed samples, VM and clone-job reads (with cursor pages), and scaling decisions, over real HTTP. */
import { CloneJobState } from '../../src/domain/clone-phase';
import { VmEntity } from '../../src/domain/entities';
import { startTestBroker, TestBroker } from '../support/broker';
import { createTestDatabase, TestDatabase } from '../support/database';
import { insertCloneJob, insertCloud, insertVm } from '../support/fixtures';
import { gqlError, gqlOk } from '../support/graphql';
import { addToken, createTenantWithToken, TenantToken } from '../support/tenants';

const RECORD = `mutation($s: [SampleInput!]!) { recordSamples(samples: $s) }`;
const SAMPLES = `query($vm: ID!, $m: String!, $since: DateTime, $first: Int) { samples(vmId: $vm, metric: $m, since: $since, first: $first) { vmId metric state value observedAt source } }`;
const JOBS = `query($first: Int, $after: String, $state: CloneJobState) { cloneJobs(first: $first, after: $after, state: $state) {
  totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id state phase name sourceVm { id } targetCloud { id } sourceCloud { id } error { code } } } } }`;

describe('samples, VMs and clone jobs (read side)', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let url: string;
  let a: TenantToken;
  let b: TenantToken;
  let vmA: VmEntity;
  let vmB: VmEntity;
  let targetId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    broker = await startTestBroker(db.url);
    url = broker.url;
    a = await createTenantWithToken(url, broker.adminToken, 'samples-a');
    b = await createTenantWithToken(url, broker.adminToken, 'samples-b');
    const cloudA = await insertCloud(broker.dataSource, a.tenantId, 'a-home');
    const target = await insertCloud(broker.dataSource, a.tenantId, 'a-target');
    targetId = target.id;
    const cloudB = await insertCloud(broker.dataSource, b.tenantId, 'b-home');
    vmA = await insertVm(broker.dataSource, a.tenantId, cloudA.id);
    vmB = await insertVm(broker.dataSource, b.tenantId, cloudB.id);
  });

  afterAll(async () => {
    await broker.stop();
    await db.drop();
  });

  it('lists the tenant\'s VMs with their cloud, filtered by cloud', async () => {
    const { vms } = await gqlOk(url, a.token, `{ vms { id name state addresses { address kind } cloud { id name } } }`);
    expect(vms).toEqual([{ id: vmA.id, name: vmA.name, state: 'ACTIVE', addresses: [{ address: '127.0.1.10', kind: 'fixed' }], cloud: { id: vmA.cloudId, name: 'a-home' } }]);
    const { vms: none } = await gqlOk(url, a.token, `query($c: ID) { vms(cloudId: $c) { id } }`, { c: targetId });
    expect(none).toEqual([]);
  });

  it('records samples and returns them newest first, limited and since a time', async () => {
    const t0 = Date.now() - 60_000;
    const samples = [0, 1, 2, 3, 4].map((i) => ({
      vmId: vmA.id,
      metric: 'Registered OpenSIPS Users',
      state: i < 3 ? 'OK' : 'CRITICAL',
      value: 100 * i,
      observedAt: new Date(t0 + i * 10_000).toISOString(),
    }));
    expect((await gqlOk(url, a.token, RECORD, { s: samples })).recordSamples).toBe(5);

    const latest = (await gqlOk(url, a.token, SAMPLES, { vm: vmA.id, m: 'Registered OpenSIPS Users', first: 2 })).samples;
    expect(latest.map((s: { value: number; state: string }) => [s.value, s.state])).toEqual([
      [400, 'CRITICAL'],
      [300, 'CRITICAL'],
    ]);
    expect(latest[0].source).toBe('push');
    const since = (await gqlOk(url, a.token, SAMPLES, { vm: vmA.id, m: 'Registered OpenSIPS Users', since: new Date(t0 + 15_000).toISOString() })).samples;
    expect(since.map((s: { value: number }) => s.value)).toEqual([400, 300, 200]);
    const other = (await gqlOk(url, a.token, SAMPLES, { vm: vmA.id, m: 'another metric' })).samples;
    expect(other).toEqual([]);
  });

  it('stores all samples or none: one foreign VM rejects the whole batch', async () => {
    const before = (await gqlOk(url, a.token, SAMPLES, { vm: vmA.id, m: 'batch' })).samples.length;
    const err = await gqlError(url, a.token, RECORD, {
      s: [
        { vmId: vmA.id, metric: 'batch', state: 'OK' },
        { vmId: vmB.id, metric: 'batch', state: 'OK' },
      ],
    });
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'samples.1.vmId' });
    expect((await gqlOk(url, a.token, SAMPLES, { vm: vmA.id, m: 'batch' })).samples.length).toBe(before);
  });

  it.each([
    [[], 'samples', 'at least one'],
    [[{ metric: 'm', state: 'OK', observedAt: new Date(Date.now() + 3_600_000).toISOString() }], 'samples.0.observedAt', 'future'],
    [[{ metric: '', state: 'OK' }], 'samples.0.metric', 'must not be empty'],
    [[{ metric: 'm', state: 'OK', vmId: 'not-an-id' }], 'samples.0.vmId', 'id'],
  ])('rejects samples %j naming %s', async (samples, field, rule) => {
    const withVm = (samples as Record<string, unknown>[]).map((s) => ({ vmId: vmA.id, ...s }));
    const err = await gqlError(url, a.token, RECORD, { s: withVm });
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(String(err.extensions?.rule)).toContain(rule);
  });

  it('rejects more than 1000 samples per call', async () => {
    const many = Array.from({ length: 1001 }, () => ({ vmId: vmA.id, metric: 'm', state: 'OK' }));
    const err = await gqlError(url, a.token, RECORD, { s: many });
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'samples' });
  });

  it('lets viewers read samples but not push them, and hides other tenants\' VMs', async () => {
    const viewer = await addToken(url, broker.adminToken, a.tenantId, 'VIEWER');
    expect((await gqlError(url, viewer, RECORD, { s: [{ vmId: vmA.id, metric: 'm', state: 'OK' }] })).extensions?.code).toBe('FORBIDDEN');
    expect((await gqlOk(url, viewer, SAMPLES, { vm: vmA.id, m: 'Registered OpenSIPS Users' })).samples.length).toBeGreaterThan(0);
    expect((await gqlError(url, b.token, SAMPLES, { vm: vmA.id, m: 'Registered OpenSIPS Users' })).extensions?.code).toBe('NOT_FOUND');
  });

  it('pages clone jobs newest first with opaque cursors, and filters by state', async () => {
    const base = Date.now() - 3_600_000;
    const jobs = [];
    for (let i = 0; i < 5; i++) {
      jobs.push(await insertCloneJob(broker.dataSource, vmA, targetId, i === 2 ? CloneJobState.FAILED : CloneJobState.DONE, new Date(base + i * 1000)));
    }
    await insertCloneJob(broker.dataSource, vmB, vmB.cloudId);
    const newestFirst = jobs.map((j) => j.id).reverse();

    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const { cloneJobs }: { cloneJobs: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string }; edges: { node: { id: string } }[] } } = await gqlOk(url, a.token, JOBS, { first: 2, after });
      expect(cloneJobs.totalCount).toBe(5);
      seen.push(...cloneJobs.edges.map((e) => e.node.id));
      after = cloneJobs.pageInfo.hasNextPage ? cloneJobs.pageInfo.endCursor : null;
      pages++;
    } while (after);
    expect(pages).toBe(3);
    expect(seen).toEqual(newestFirst);

    const { cloneJobs: failed } = await gqlOk(url, a.token, JOBS, { state: 'FAILED' });
    expect(failed.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([jobs[2].id]);
    expect(failed.edges[0].node).toMatchObject({ sourceVm: { id: vmA.id }, targetCloud: { id: targetId }, sourceCloud: { id: vmA.cloudId } });

    const { cloneJob } = await gqlOk(url, a.token, `query($id: ID!) { cloneJob(id: $id) { id state } }`, { id: jobs[0].id });
    expect(cloneJob).toEqual({ id: jobs[0].id, state: 'DONE' });
    const { cloneJob: foreign } = await gqlOk(url, b.token, `query($id: ID!) { cloneJob(id: $id) { id } }`, { id: jobs[0].id });
    expect(foreign).toBeNull();
  });

  it('rejects a forged cursor and an out-of-range page size', async () => {
    expect((await gqlError(url, a.token, JOBS, { after: 'bm90LWEtY3Vyc29y' })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    expect((await gqlError(url, a.token, JOBS, { first: 0 })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
  });

  it('reads scaling decisions of the tenant only', async () => {
    const { createVmType } = await gqlOk(url, a.token, `mutation { createVmType(input: { name: "sd", minInstances: 0, maxInstances: 2 }) { id } }`);
    await broker.dataSource.query(
      `INSERT INTO scaling_decisions (tenant_id, vm_type_id, action, metric, reason, evidence) VALUES ($1, $2, 'NONE', 'load', 'CRITICAL held 10 of 30 s', '{"held": 10}')`,
      [a.tenantId, createVmType.id],
    );
    const { scalingDecisions } = await gqlOk(url, a.token, `query($t: ID) { scalingDecisions(vmTypeId: $t) { vmTypeId action metric reason evidence } }`, { t: createVmType.id });
    expect(scalingDecisions).toEqual([{ vmTypeId: createVmType.id, action: 'NONE', metric: 'load', reason: 'CRITICAL held 10 of 30 s', evidence: { held: 10 } }]);
    expect((await gqlOk(url, b.token, `{ scalingDecisions { id } }`)).scalingDecisions).toEqual([]);
  });
});
