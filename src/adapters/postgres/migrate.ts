/**
 * Runs pending migrations under a PostgreSQL advisory lock, so brokers starting together
 * take turns: the first migrates, the others find nothing left to do.
 */
import { DataSource } from 'typeorm';

/** Arbitrary but fixed: the lock id every broker uses for migrations. */
const MIGRATION_LOCK_ID = 7_310_001;

export async function migrate(dataSource: DataSource): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
    await runner.release();
  }
}

export async function revertAll(dataSource: DataSource): Promise<void> {
  while ((await dataSource.query(`SELECT count(*)::int AS n FROM typeorm_migrations`))[0].n > 0) {
    await dataSource.undoLastMigration({ transaction: 'each' });
  }
}
