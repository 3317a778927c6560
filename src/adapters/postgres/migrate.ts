/**
 * Start-up schema changes under one PostgreSQL advisory lock, so brokers starting together take
 * turns: the first migrates (our tables, then pg-boss's schema and queues), the others find
 * nothing left to do. Concurrent pg-boss queue creation deadlocks otherwise.
 */
import { DataSource } from 'typeorm';
import { AdvisoryLock } from '../../ports/advisory-locks.port';

/** Runs `fn` while holding the schema lock on a connection of its own (a session lock). */
export async function withSchemaLock<T>(dataSource: DataSource, fn: () => Promise<T>): Promise<T> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [AdvisoryLock.SCHEMA]);
    return await fn();
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [AdvisoryLock.SCHEMA]).catch(() => undefined);
    await runner.release();
  }
}

/** Pending TypeORM migrations, under the schema lock; the names of those applied. */
export async function migrate(dataSource: DataSource): Promise<string[]> {
  return withSchemaLock(dataSource, () => runMigrations(dataSource));
}

/** Pending migrations, for callers that already hold the schema lock. */
export async function runMigrations(dataSource: DataSource): Promise<string[]> {
  const applied = await dataSource.runMigrations({ transaction: 'each' });
  return applied.map((m) => m.name);
}

export async function revertAll(dataSource: DataSource): Promise<void> {
  while ((await dataSource.query(`SELECT count(*)::int AS n FROM typeorm_migrations`))[0].n > 0) {
    await dataSource.undoLastMigration({ transaction: 'each' });
  }
}
