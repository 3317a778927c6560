/** Migrations on a real PostgreSQL: up on empty, up again is a no-op, down then up, and no drift from the entities. */
import { DataSource } from 'typeorm';
import { createDataSource } from '../src/adapters/postgres/data-source';
import { migrate, revertAll } from '../src/adapters/postgres/migrate';
import { createTestDatabase, TestDatabase } from './support/database';

describe('migrations', () => {
  let db: TestDatabase;
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase({ empty: true });
    ds = createDataSource(db.url, 4);
    await ds.initialize();
  });

  afterAll(async () => {
    await ds.destroy();
    await db.drop();
  });

  const tables = async () =>
    (await ds.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`)).map((r: { table_name: string }) => r.table_name);

  it('creates every table on an empty database', async () => {
    const applied = await migrate(ds);
    expect(applied.length).toBeGreaterThan(0);
    expect(await tables()).toEqual(
      expect.arrayContaining(['tenants', 'api_tokens', 'clouds', 'vm_types', 'thresholds', 'metrics', 'vms', 'samples', 'policies', 'clone_jobs', 'events', 'event_streams', 'scaling_decisions', 'audit_log']),
    );
  });

  it('does nothing when run again', async () => {
    expect(await migrate(ds)).toEqual([]);
  });

  it('matches the entities exactly (no schema drift)', async () => {
    const pending = await ds.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query)).toEqual([]);
  });

  it('reverts to an empty schema and migrates up again', async () => {
    await revertAll(ds);
    expect(await tables()).toEqual(['typeorm_migrations']);
    expect((await migrate(ds)).length).toBeGreaterThan(0);
    expect(await tables()).toContain('clone_jobs');
  });

  it('lets two brokers migrate at the same time (advisory lock)', async () => {
    const other = await createTestDatabase({ empty: true });
    const a = createDataSource(other.url, 2);
    const b = createDataSource(other.url, 2);
    await Promise.all([a.initialize(), b.initialize()]);
    try {
      const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
      // Exactly one of them applied the migrations; the other found nothing to do.
      expect([ra.length, rb.length].sort()).toEqual([0, ra.length + rb.length]);
      expect(ra.length + rb.length).toBeGreaterThan(0);
    } finally {
      await Promise.all([a.destroy(), b.destroy()]);
      await other.drop();
    }
  });
});
