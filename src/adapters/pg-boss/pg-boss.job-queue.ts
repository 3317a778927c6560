/**
 * JobQueue on pg-boss (same PostgreSQL). pg-boss delivers and claims (SKIP LOCKED); exclusive
 * running and crash recovery are the clone runner's lease, so pg-boss's own retry and
 * expiry are set wide rather than relied on. A job id is its singleton key under the `short`
 * policy: a job waits in the queue at most once, however often a sweep hands it out.
 */
import PgBoss from 'pg-boss';
import { Logger } from 'pino';
import { EntityManager } from 'typeorm';
import { JobKind, JobQueue } from '../../ports/job-queue.port';

/** Clone jobs: v2 has the `short` policy (the first queue, v1, was `standard` and let sweeps pile up duplicates). */
const QUEUES: Record<JobKind, string> = { clone: 'clone-job-v2', 'scale-down': 'scale-down-job' };
const QUEUE_OPTIONS = { policy: 'short', retryLimit: 0, expireInSeconds: 6 * 3600 } as const;

export class PgBossJobQueue implements JobQueue {
  private readonly boss: PgBoss;
  private stopped: Promise<void> | null = null;

  constructor(
    connectionString: string,
    private readonly logger: Logger,
  ) {
    this.boss = new PgBoss({ connectionString, application_name: 'intercloud-jobs', max: 4, schedule: false });
    this.boss.on('error', (err) => this.logger.error({ err }, 'pg-boss error'));
  }

  /** Installs or migrates pg-boss's schema and creates the queue: run it under the schema lock. */
  async start(): Promise<void> {
    await this.boss.start();
    for (const name of Object.values(QUEUES)) {
      if (!(await this.boss.getQueue(name))) await this.boss.createQueue(name, { name, ...QUEUE_OPTIONS });
    }
  }

  async enqueue(kind: JobKind, tx: EntityManager | null, jobId: string): Promise<void> {
    const db = tx
      ? {
          // The transaction's own pg client, so pg-boss's parameters reach pg untouched.
          executeSql: async (text: string, values: unknown[]) => {
            const client = (tx.queryRunner as unknown as { databaseConnection: { query(t: string, v: unknown[]): Promise<{ rows: unknown[] }> } }).databaseConnection;
            return client.query(text, values);
          },
        }
      : undefined;
    // null when the job already waits in the queue: nothing to add.
    // The payload keeps the name it had when only clone jobs existed, so queued v2 jobs stay readable.
    await this.boss.send(QUEUES[kind], { cloneJobId: jobId }, { db, singletonKey: jobId, retryLimit: 0, expireInSeconds: 6 * 3600 });
  }

  async work(kind: JobKind, concurrency: number, handler: (jobId: string) => Promise<void>): Promise<void> {
    for (let i = 0; i < concurrency; i++) {
      await this.boss.work<{ cloneJobId: string }>(QUEUES[kind], { batchSize: 1, pollingIntervalSeconds: 0.5 }, async ([job]) => {
        await handler(job.data.cloneJobId);
      });
    }
  }

  /** Idempotent: the runner stops the queue first, the broker's cleanup again after a failed start. */
  stop(): Promise<void> {
    this.stopped ??= this.boss.stop({ graceful: true, wait: true, timeout: 5000 });
    return this.stopped;
  }
}
