/**
 * Retention on a real database: events, audit entries and samples older than their retention are
 * deleted (in batches, oldest first), newer ones and tables with retention 0 are kept, and each
 * deletion is counted in the metrics.
 */
import crypto from 'node:crypto';
import pino from 'pino';
import { DataSource } from 'typeorm';
import { createMetrics } from '../../src/api/metrics';
import { createDataSource } from '../../src/adapters/postgres/data-source';
import { RetentionTask } from '../../src/scheduler/retention.task';
import { createTestDatabase, TestDatabase } from '../support/database';
import { insertCloud, insertVm } from '../support/fixtures';

describe('retention', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let tenantId: string;
  let vmId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = createDataSource(db.url, 4);
    await ds.initialize();
    [{ id: tenantId }] = await ds.query(`INSERT INTO tenants (name) VALUES ($1) RETURNING id`, [`ret-${crypto.randomBytes(3).toString('hex')}`]);
    const cloud = await insertCloud(ds, tenantId);
    vmId = (await insertVm(ds, tenantId, cloud.id)).id;
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  /** `n` rows in each table, dated `daysAgo` days back. */
  async function seed(daysAgo: number, n: number, tag: string): Promise<void> {
    for (let i = 0; i < n; i++) {
      const at = `now() - make_interval(days => ${daysAgo})`;
      await ds.query(`INSERT INTO events (stream, seq, tenant_id, type, payload, created_at) VALUES ($1, $2, $3, 'test', '{}', ${at})`, [`ret-${tag}`, i + 1, tenantId]);
      await ds.query(`INSERT INTO audit_log (tenant_id, seq, action, object_type, object_id, details, at) VALUES ($1, $2, $3, 'Test', 'x', '{}', ${at})`, [tenantId, i + 1, `ret.${tag}`]);
      await ds.query(`INSERT INTO samples (tenant_id, vm_id, metric, state, observed_at, source) VALUES ($1, $2, $3, 'OK', ${at}, 'push')`, [tenantId, vmId, `ret-${tag}`]);
    }
  }

  const count = async (sql: string, tag: string) => (await ds.query(sql, [tag]))[0].n as number;
  const counts = async (tag: string) => ({
    events: await count(`SELECT count(*)::int AS n FROM events WHERE stream = 'ret-' || $1`, tag),
    audit: await count(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'ret.' || $1`, tag),
    samples: await count(`SELECT count(*)::int AS n FROM samples WHERE metric = 'ret-' || $1`, tag),
  });

  it('deletes what is older than each table\'s retention and keeps the rest', async () => {
    await seed(40, 3, 'old');
    await seed(10, 2, 'recent');
    const metrics = createMetrics();
    const task = new RetentionTask(ds, metrics, pino({ level: 'silent' }), { intervalMs: 3600_000, eventsDays: 30, auditDays: 365, samplesDays: 7 });
    await task.run();
    expect(await counts('old')).toEqual({ events: 0, audit: 3, samples: 0 });
    expect(await counts('recent')).toEqual({ events: 2, audit: 2, samples: 0 });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^intercloud_pruned_rows_total\{table="events"\} 3$/m);
    expect(text).toMatch(/^intercloud_pruned_rows_total\{table="samples"\} 5$/m);
  });

  it('keeps everything of a table whose retention is 0', async () => {
    await seed(4000, 2, 'ancient');
    const task = new RetentionTask(ds, createMetrics(), pino({ level: 'silent' }), { intervalMs: 3600_000, eventsDays: 0, auditDays: 0, samplesDays: 0 });
    await task.run();
    expect(await counts('ancient')).toEqual({ events: 2, audit: 2, samples: 2 });
  });
});
