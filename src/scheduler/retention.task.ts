/**
 * Retention, a task of the leader scheduler: events, audit entries and samples older than their
 * retention are deleted, oldest first, in small batches along an index on their time column, so a
 * round never holds long locks or scans a table. A retention of 0 days keeps everything.
 */
import { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { Metrics } from '../api/metrics';
import { PeriodicTask } from './leader-scheduler';

export interface RetentionOptions {
  intervalMs: number;
  eventsDays: number;
  auditDays: number;
  samplesDays: number;
}

/** Table, its time column (indexed), and which retention applies; fixed names, never input. */
const TABLES = [
  { table: 'events', column: 'created_at', days: (o: RetentionOptions) => o.eventsDays },
  { table: 'audit_log', column: 'at', days: (o: RetentionOptions) => o.auditDays },
  { table: 'samples', column: 'observed_at', days: (o: RetentionOptions) => o.samplesDays },
] as const;

const BATCH = 5000;
/** Per table and round: a backlog is worked off over several rounds rather than in one long one. */
const MAX_BATCHES = 200;

export class RetentionTask implements PeriodicTask {
  readonly name = 'retention';
  readonly intervalMs: number;

  constructor(
    private readonly dataSource: DataSource,
    private readonly metrics: Pick<Metrics, 'prunedRows'>,
    private readonly logger: Logger,
    private readonly options: RetentionOptions,
  ) {
    this.intervalMs = options.intervalMs;
  }

  async run(): Promise<void> {
    for (const { table, column, days } of TABLES) {
      const keepDays = days(this.options);
      if (keepDays <= 0) continue;
      const deleted = await this.prune(table, column, keepDays);
      if (deleted > 0) this.logger.info({ table, deleted, keepDays }, 'retention deleted old rows');
    }
  }

  private async prune(table: string, column: string, keepDays: number): Promise<number> {
    let total = 0;
    for (let i = 0; i < MAX_BATCHES; i++) {
      const [, count] = (await this.dataSource.query(
        `DELETE FROM ${table} WHERE id IN (
           SELECT id FROM ${table} WHERE ${column} < now() - make_interval(days => $1) ORDER BY ${column} LIMIT ${BATCH})`,
        [keepDays],
      )) as [unknown, number];
      total += count;
      this.metrics.prunedRows.inc({ table }, count);
      if (count < BATCH) break;
    }
    return total;
  }
}
