/**
 * Leadership among broker replicas for one singleton task: a PostgreSQL session advisory lock
 * held on a dedicated connection (not the pool, whose connections come and go). The lock lives
 * exactly as long as that session, so a leader that dies or loses its connection frees it, and
 * the next replica that asks (each interval) takes over.
 */
import { Client } from 'pg';
import { Logger } from 'pino';

export interface LeaderLockOptions {
  /** The advisory lock id; fixed per task and the same in every replica. */
  lockId: number;
  /** The task, for logs and the connection's application_name. */
  name: string;
  /** Bounds every query, so a dead connection is noticed rather than waited on. */
  queryTimeoutMs?: number;
}

export class LeaderLock {
  private client: Client | null = null;
  private leader = false;
  /** Callers asking at once share one answer (and one connection, the one holding the lock). */
  private pending: Promise<boolean> | null = null;

  constructor(
    private readonly connectionString: string,
    private readonly options: LeaderLockOptions,
    private readonly logger: Logger,
  ) {}

  isLeader(): boolean {
    return this.leader;
  }

  /**
   * Whether this replica leads now: takes the lock if it is free, or checks that the session
   * holding it is still alive. Call before each round of leader-only work; never throws.
   */
  acquire(): Promise<boolean> {
    this.pending ??= this.tryAcquire().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  private async tryAcquire(): Promise<boolean> {
    try {
      const client = await this.connection();
      if (this.leader) {
        // A session lock lasts as long as the session: if this answers, the lock is still ours.
        await client.query('SELECT 1');
        return true;
      }
      const { rows } = await client.query<{ acquired: boolean }>('SELECT pg_try_advisory_lock($1) AS acquired', [this.options.lockId]);
      if (rows[0].acquired) {
        this.leader = true;
        this.logger.info({ lock: this.options.name }, 'leader lock acquired: this replica runs the task');
      }
      return this.leader;
    } catch (err) {
      this.drop(err);
      return false;
    }
  }

  /** Gives the lock up (another replica takes over at its next try) and closes the connection. */
  async release(): Promise<void> {
    await this.pending;
    const client = this.client;
    const wasLeader = this.leader;
    this.client = null;
    this.leader = false;
    if (!client) return;
    try {
      if (wasLeader) await client.query('SELECT pg_advisory_unlock($1)', [this.options.lockId]);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private async connection(): Promise<Client> {
    if (this.client) return this.client;
    const client = new Client({
      connectionString: this.connectionString,
      application_name: `intercloud-leader-${this.options.name}`,
      query_timeout: this.options.queryTimeoutMs ?? 5000,
      keepAlive: true,
    });
    client.on('error', (err) => {
      if (this.client === client) this.drop(err);
    });
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    this.client = client;
    return client;
  }

  /** The session is gone or unusable, and with it the lock: the next acquire() starts afresh. */
  private drop(err: unknown): void {
    if (this.leader) this.logger.warn({ err, lock: this.options.name }, 'leader lock lost with its connection');
    else this.logger.debug({ err, lock: this.options.name }, 'leader lock connection failed');
    this.leader = false;
    const client = this.client;
    this.client = null;
    // Ending a broken client only frees its socket; there is nothing to wait for or report.
    client?.end().catch(() => undefined);
  }
}
