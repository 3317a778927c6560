/**
 * Brokers starting together on an empty database: every schema change of a start (our
 * migrations, pg-boss's schema and its queue) runs under one lock, so they take turns instead of
 * deadlocking (`deadlock detected` in pgboss.create_queue, 2 times in 5 before). Repeated, on a
 * fresh empty database each round, with real brokers in this process.
 */
import { startTestBroker, TestBroker } from './support/broker';
import { createTestDatabase } from './support/database';
import { gqlOk } from './support/graphql';

const ROUNDS = 4;
const BROKERS = 3;

describe('brokers starting at once on an empty database', () => {
  for (let round = 1; round <= ROUNDS; round++) {
    it(`round ${round}: ${BROKERS} brokers all start, migrate once and serve`, async () => {
      const db = await createTestDatabase({ empty: true });
      const brokers: TestBroker[] = [];
      try {
        const started = await Promise.allSettled(Array.from({ length: BROKERS }, () => startTestBroker(db.url)));
        for (const s of started) if (s.status === 'fulfilled') brokers.push(s.value);
        const failures = started.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => String(s.reason));
        expect(failures).toEqual([]);
        for (const b of brokers) expect((await gqlOk(b.url, b.adminToken, '{ me { role } }')).me.role).toBe('ADMIN');
        const [{ n: migrations }] = await brokers[0].dataSource.query(`SELECT count(*)::int AS n FROM typeorm_migrations`);
        const [{ n: queues }] = await brokers[0].dataSource.query(`SELECT count(*)::int AS n FROM pgboss.queue WHERE name = 'clone-job-v2'`);
        expect(migrations).toBeGreaterThanOrEqual(2);
        expect(queues).toBe(1);
      } finally {
        for (const b of brokers) await b.stop();
        await db.drop();
      }
    });
  }
});
