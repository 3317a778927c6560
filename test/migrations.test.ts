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

  /** Undoes migrations, newest first, until the one named `prefix…` is undone too. */
  const undoThrough = async (prefix: string) => {
    while ((await ds.query(`SELECT count(*)::int AS n FROM typeorm_migrations WHERE name LIKE $1`, [`${prefix}%`]))[0].n > 0) {
      await ds.undoLastMigration({ transaction: 'each' });
    }
  };

  it('clears the draft SIP bindings that named nothing, keeps new ones, and says where old host keys came from', async () => {
    // Back to the schema before SipIntegrations, with rows as older versions wrote them.
    await undoThrough('SipIntegrations');
    const [{ id: tenantId }] = await ds.query(`INSERT INTO tenants (name) VALUES ('old-version') RETURNING id`);
    const [{ id: cloudId }] = await ds.query(
      `INSERT INTO clouds (tenant_id, name, auth_url, region, credential_kind, credentials_ciphertext, bandwidth_mbps, cost_per_hour)
       VALUES ($1, 'c', 'https://keystone.example.net/v3', 'RegionOne', 'PASSWORD', '\\x00', 1000, 0.1) RETURNING id`,
      [tenantId],
    );
    const [{ id: typeId }] = await ds.query(
      `INSERT INTO vm_types (tenant_id, name, min_instances, max_instances, configure_recipe, monitoring, load_balancer, drain_timeout_seconds)
       VALUES ($1, 'opensips', 1, 2, $2, $3, $4, 120) RETURNING id`,
      [
        tenantId,
        JSON.stringify({ sshUser: 'sipadmin', sshPort: 22, files: [], commands: [['systemctl', 'restart', 'opensips']] }),
        JSON.stringify({ hostTemplate: 'sip-host', services: [] }),
        JSON.stringify({ kind: 'KAMAILIO_DISPATCHER', setId: 1, sipPort: 5060, transport: 'udp', target: 'kamailio-main' }),
      ],
    );
    const vm = (origin: string, fingerprint: string | null) =>
      ds.query(`INSERT INTO vms (tenant_id, vm_type_id, cloud_id, server_id, name, state, origin, ssh_host_key_fingerprint) VALUES ($1, $2, $3, gen_random_uuid()::text, 'v', 'ACTIVE', $4, $5)`, [
        tenantId,
        typeId,
        cloudId,
        origin,
        fingerprint,
      ]);
    await vm('IMPORTED', 'SHA256:lLIELZX6+EsXwDC7EkuwH4v1x+ql0wml8YA41VDr0NU');
    await vm('CLONE', 'SHA256:lLIELZX6+EsXwDC7EkuwH4v1x+ql0wml8YA41VDr0NU');
    await vm('IMPORTED', null);

    // The two run first; migrations added after them were undone by the loop above and run again too.
    expect((await migrate(ds)).slice(0, 2)).toEqual(['SipIntegrations1796161246440', 'DraftSipBindingsCleared1796161259476']);
    expect(await ds.query(`SELECT configure_recipe, monitoring, load_balancer, ssh_key_id FROM vm_types WHERE id = $1`, [typeId])).toEqual([
      { configure_recipe: null, monitoring: null, load_balancer: null, ssh_key_id: null },
    ]);
    const vms = await ds.query(`SELECT origin, ssh_host_key_source AS source, ssh_host_key_note AS note FROM vms WHERE tenant_id = $1 ORDER BY origin, ssh_host_key_fingerprint NULLS LAST`, [tenantId]);
    expect(vms).toEqual([
      { origin: 'CLONE', source: 'CLONED', note: null },
      { origin: 'IMPORTED', source: 'IMPORTED', note: null },
      { origin: 'IMPORTED', source: null, note: expect.stringContaining('setVmHostKey') },
    ]);

    // A binding of the new shape survives the data migration run again.
    const recipe = { sshKeyId: '0b5e9a5c-0000-4000-8000-000000000000', sshPort: 22, sudo: null, files: [], commands: [], readiness: null };
    await ds.query(`UPDATE vm_types SET configure_recipe = $2 WHERE id = $1`, [typeId, JSON.stringify(recipe)]);
    await undoThrough('DraftSipBindingsCleared');
    expect(await migrate(ds)).toContain('DraftSipBindingsCleared1796161259476');
    expect((await ds.query(`SELECT configure_recipe FROM vm_types WHERE id = $1`, [typeId]))[0].configure_recipe).toEqual(recipe);
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
