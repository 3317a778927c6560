/**
 * JobQueue on pg-boss (same PostgreSQL). pg-boss delivers and claims (SKIP LOCKED); exclusive
 * running and crash recovery are the clone runner's lease, so pg-boss's own retry and
 * expiry are set wide rather than relied on.
 */
import PgBoss from 'pg-boss';
import { Logger } from 'pino';
import { EntityManager } from 'typeorm';
import { JobQueue } from '../../ports/job-queue.port';

const CLONE_QUEUE = 'clone-job';

export class PgBossJobQueue implements JobQueue {
  private readonly boss: PgBoss;

  constructor(
    connectionString: string,
    private readonly logger: Logger,
    private readonly options: { concurrency: number } = { concurrency: 2 },
  ) {
    this.boss = new PgBoss({ connectionString, application_name: 'intercloud-jobs', max: 4, schedule: false });
    this.boss.on('error', (err) => this.logger.error({ err }, 'pg-boss error'));
  }

  async start(): Promise<void> {
    await this.boss.start();
    await this.boss.createQueue(CLONE_QUEUE, { name: CLONE_QUEUE, retryLimit: 0, expireInSeconds: 6 * 3600 });
  }

  async enqueueClone(tx: EntityManager | null, cloneJobId: string): Promise<void> {
    const db = tx
      ? {
          // The transaction's own pg client, so pg-boss's parameters reach pg untouched.
          executeSql: async (text: string, values: unknown[]) => {
            const client = (tx.queryRunner as unknown as { databaseConnection: { query(t: string, v: unknown[]): Promise<{ rows: unknown[] }> } }).databaseConnection;
            return client.query(text, values);
          },
        }
      : undefined;
    await this.boss.send(CLONE_QUEUE, { cloneJobId }, { db, retryLimit: 0, expireInSeconds: 6 * 3600 });
  }

  async workClones(handler: (cloneJobId: string) => Promise<void>): Promise<void> {
    for (let i = 0; i < this.options.concurrency; i++) {
      await this.boss.work<{ cloneJobId: string }>(CLONE_QUEUE, { batchSize: 1, pollingIntervalSeconds: 0.5 }, async ([job]) => {
        await handler(job.data.cloneJobId);
      });
    }
  }

  async stop(): Promise<void> {
    await this.boss.stop({ graceful: true, wait: true, timeout: 5000 });
  }
}
