/**
 * What a nested page costs in database queries: clone jobs with their source and target clouds,
 * source VM (and its cloud) and result VM, counted through the broker's TypeORM logger (every
 * query the broker's pool runs passes through logQuery). The count must not grow with the page
 * size: 10 jobs and 100 jobs cost the same few queries. The batched lookups keep today's
 * visibility exactly: another tenant's unshared cloud is null, a shared one is shown.
 */
import { AbstractLogger, LogLevel, LogMessage, QueryRunner } from 'typeorm';
import { startTestBroker, TestBroker } from '../support/broker';
import { createTestDatabase, TestDatabase } from '../support/database';
import { insertCloneJob, insertCloud, insertVm } from '../support/fixtures';
import { gqlOk } from '../support/graphql';
import { createTenantWithToken, TenantToken } from '../support/tenants';

const PAGE = `query($first: Int!) { cloneJobs(first: $first) { nodes {
  id sourceCloud { id name } targetCloud { id name } sourceVm { id name cloud { id } } resultVm { id name }
} } }`;

/** Records the SQL of every query while `recording` is set, and passes nothing on (the broker logs no queries). */
class QueryRecorder extends AbstractLogger {
  recording = false;
  readonly queries: string[] = [];

  override logQuery(query: string): void {
    if (this.recording) this.queries.push(query);
  }

  protected writeLog(_level: LogLevel, _message: LogMessage | LogMessage[], _queryRunner?: QueryRunner): void {}
}

/** `SELECT FROM clone_jobs`: what a statement does to which table, without its parameters. */
const shape = (sql: string) => `${sql.split(' ')[0]} FROM ${/FROM "(\w+)"/.exec(sql)?.[1] ?? '?'}`;

describe('a page of clone jobs with their clouds and VMs', () => {
  let db: TestDatabase;
  let broker: TestBroker;
  let operator: TenantToken;
  const recorder = new QueryRecorder();

  /** The queries the broker ran to answer `query`. */
  const queriesOf = async (query: string, variables: Record<string, unknown>) => {
    recorder.queries.length = 0;
    recorder.recording = true;
    try {
      const data = await gqlOk(broker.url, operator.token, query, variables);
      return { data, queries: [...recorder.queries] };
    } finally {
      recorder.recording = false;
    }
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    // Nothing periodic runs in the broker while queries are counted.
    broker = await startTestBroker(db.url, {
      CLONE_CONCURRENCY: '0',
      SCALE_DOWN_CONCURRENCY: '0',
      MONITORING_POLL_SECONDS: '3600',
      CLOUD_HEALTH_INTERVAL_SECONDS: '86400',
    });
    operator = await createTenantWithToken(broker.url, broker.adminToken, 'pager');
    const other = await createTenantWithToken(broker.url, broker.adminToken, 'other');
    const ds = broker.dataSource;
    const home = await insertCloud(ds, operator.tenantId, 'home');
    const partner = await insertCloud(ds, operator.tenantId, 'partner');
    const hidden = await insertCloud(ds, other.tenantId, 'hidden');
    const shared = await insertCloud(ds, other.tenantId, 'shared', true);
    const targets = [partner, hidden, shared];
    for (let i = 0; i < 100; i++) {
      const vm = await insertVm(ds, operator.tenantId, home.id);
      const target = targets[i % targets.length];
      const job = await insertCloneJob(ds, vm, target.id, undefined, new Date(Date.now() - i * 1000));
      const result = await insertVm(ds, operator.tenantId, target.id);
      await ds.query('UPDATE clone_jobs SET result_vm_id = $2 WHERE id = $1', [job.id, result.id]);
    }
    (ds as unknown as { logger: QueryRecorder }).logger = recorder;
    // The token is verified (and cached) before anything is counted.
    await gqlOk(broker.url, operator.token, '{ me { role } }');
  });

  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
  });

  it('costs the same few queries for 100 jobs as for 10', async () => {
    const ten = await queriesOf(PAGE, { first: 10 });
    const hundred = await queriesOf(PAGE, { first: 100 });
    expect(ten.data.cloneJobs.nodes).toHaveLength(10);
    expect(hundred.data.cloneJobs.nodes).toHaveLength(100);
    // Same statements but for the size of their IN lists and LIMIT: compared by kind and table.
    expect(hundred.queries.map(shape)).toEqual(ten.queries.map(shape));
    // The page and its count, then one query per kind and level: the jobs' clouds, their VMs, the VMs' clouds.
    expect(hundred.queries.map(shape)).toEqual(['SELECT FROM clone_jobs', 'SELECT FROM clone_jobs', 'SELECT FROM clouds', 'SELECT FROM vms', 'SELECT FROM clouds']);
  });

  it('shows related rows exactly as the single lookups did: another tenant’s cloud only when shared', async () => {
    const { data } = await queriesOf(PAGE, { first: 100 });
    const byTarget = new Map<string, number>();
    for (const job of data.cloneJobs.nodes) {
      expect(job.sourceCloud.name).toBe('home');
      expect(job.sourceVm.cloud.id).toBe(job.sourceCloud.id);
      const name = job.targetCloud?.name ?? 'null';
      byTarget.set(name, (byTarget.get(name) ?? 0) + 1);
      expect(job.resultVm).not.toBeNull();
    }
    expect(Object.fromEntries(byTarget)).toEqual({ partner: 34, null: 33, shared: 33 });
  });
});
