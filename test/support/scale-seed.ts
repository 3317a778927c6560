/**
 * A fleet at scale, inserted set-based (generate_series) for the autoscaler's query-count test and
 * `npm run bench:scale`: one tenant, `clouds` clouds, `types` VM types with a SCALE_UP and a
 * SCALE_DOWN threshold each, `vmsPerType` VMs per type spread over the clouds, and samples every
 * `sampleEverySeconds` for both metrics of every VM over the last `historySeconds`. The first
 * `heldTypes` types are overloaded (CRITICAL load on every VM) and already at their maximum, so the
 * autoscaler's verdict for them is a blocked decision, not an action.
 */
import crypto from 'node:crypto';
import { DataSource, Logger as TypeOrmLogger } from 'typeorm';
import { insertCloud } from './fixtures';

export interface ScaleSeed {
  clouds: number;
  types: number;
  vmsPerType: number;
  heldTypes: number;
  sampleEverySeconds: number;
  historySeconds: number;
  now: Date;
}

export const SCALE_UP_METRIC = 'load';
export const SCALE_DOWN_METRIC = 'idle';
/** The longest hold of the seeded thresholds (the scale-down one). */
export const LONGEST_HOLD_SECONDS = 300;

export async function seedScale(ds: DataSource, o: ScaleSeed): Promise<{ tenantId: string; cloudIds: string[]; vmTypeIds: string[] }> {
  const [{ id: tenantId }] = await ds.query(`INSERT INTO tenants (name) VALUES ($1) RETURNING id`, [`scale-${crypto.randomBytes(3).toString('hex')}`]);
  const cloudIds: string[] = [];
  for (let i = 0; i < o.clouds; i++) cloudIds.push((await insertCloud(ds, tenantId, `scale-cloud-${i}`)).id);
  const types: { id: string; n: number }[] = await ds.query(
    `INSERT INTO vm_types (tenant_id, name, min_instances, max_instances, scale_up_cooldown_seconds, scale_down_cooldown_seconds)
     SELECT $1, 'type-' || g, 1, CASE WHEN g <= $3 THEN $4 ELSE $4 + 5 END, 60, 300 FROM generate_series(1, $2) g
     RETURNING id, substring(name from 6)::int AS n`,
    [tenantId, o.types, o.heldTypes, o.vmsPerType],
  );
  await ds.query(
    `INSERT INTO thresholds (vm_type_id, metric, active, warning_hold_seconds, critical_hold_seconds, role, prepare_on_warning)
     SELECT t, m.metric, true, m.warn, m.crit, m.role, false FROM unnest($1::uuid[]) t
     CROSS JOIN (VALUES ($2, 120, 60, 'SCALE_UP'), ($3, $4::int, $4::int, 'SCALE_DOWN')) AS m(metric, warn, crit, role)`,
    [types.map((t) => t.id), SCALE_UP_METRIC, SCALE_DOWN_METRIC, LONGEST_HOLD_SECONDS],
  );
  await ds.query(
    `INSERT INTO vms (tenant_id, vm_type_id, cloud_id, server_id, name, addresses, state, origin)
     SELECT $1, t.id, ($3::uuid[])[1 + ((t.n * $2 + i) % array_length($3::uuid[], 1))], gen_random_uuid()::text, 'vm-' || t.n || '-' || i,
            '[{"network":"private","address":"10.0.0.10","kind":"fixed","version":4}]', 'ACTIVE', CASE WHEN i = 0 THEN 'IMPORTED' ELSE 'CLONE' END
     FROM unnest($4::uuid[], $5::int[]) AS t(id, n) CROSS JOIN generate_series(0, $2 - 1) i`,
    [tenantId, o.vmsPerType, cloudIds, types.map((t) => t.id), types.map((t) => t.n)],
  );
  await ds.query(
    `INSERT INTO samples (tenant_id, vm_id, metric, state, value, observed_at, source)
     SELECT $1, v.id, m.metric,
            CASE WHEN m.metric = $4 AND t.n <= $5 THEN 'CRITICAL' ELSE 'OK' END, 50,
            $6::timestamptz - make_interval(secs => k * $2), 'push'
     FROM vms v JOIN unnest($7::uuid[], $8::int[]) AS t(id, n) ON t.id = v.vm_type_id
     CROSS JOIN (VALUES ($4), ($9)) AS m(metric)
     CROSS JOIN generate_series(0, $3) k`,
    [tenantId, o.sampleEverySeconds, Math.ceil(o.historySeconds / o.sampleEverySeconds), SCALE_UP_METRIC, o.heldTypes, o.now, types.map((t) => t.id), types.map((t) => t.n), SCALE_DOWN_METRIC],
  );
  await ds.query(`ANALYZE`);
  const vmTypeIds = [...types].sort((a, b) => a.n - b.n).map((t) => t.id);
  return { tenantId, cloudIds, vmTypeIds };
}

/** Counts the SQL statements a data source sends (a TypeORM logger; it logs nothing). */
export class QueryCounter implements TypeOrmLogger {
  count = 0;
  logQuery(): void {
    this.count += 1;
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}

export function countQueries(ds: DataSource): QueryCounter {
  const counter = new QueryCounter();
  ds.setOptions({ logger: counter });
  return counter;
}
