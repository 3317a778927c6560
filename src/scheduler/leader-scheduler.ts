/**
 * The broker's periodic work, run by one leader among the replicas: every task (cloud health
 * probes, the reaper, retention, later the monitoring poller and the autoscaler) is registered
 * here instead of owning a loop and a lock of its own. Before each run the replica asks the
 * leader lock; only the holder runs. A leader that dies frees the lock and another replica takes
 * over at its next turn.
 */
import { Logger } from 'pino';
import { LeaderLock } from './leader-lock';

export interface PeriodicTask {
  /** For logs and metrics. */
  readonly name: string;
  readonly intervalMs: number;
  /** One round of the task; errors are logged and the next round comes as usual. */
  run(): Promise<void>;
}

export interface LeaderSchedulerMetrics {
  /** 1 while this replica leads. */
  setLeader(leader: boolean): void;
  taskRun(name: string, outcome: 'ok' | 'error'): void;
}

export class LeaderScheduler {
  private readonly tasks: PeriodicTask[] = [];
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly lock: LeaderLock,
    private readonly logger: Logger,
    private readonly metrics: LeaderSchedulerMetrics,
  ) {}

  add(task: PeriodicTask): this {
    this.tasks.push(task);
    return this;
  }

  /** The first round of every task runs at once, so a new leader acts without waiting an interval. */
  start(): void {
    for (const task of this.tasks) this.schedule(task, 0);
  }

  /** Waits for running rounds, then gives up the lock so another replica takes over. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    await Promise.all([...this.running]);
    await this.lock.release();
    this.metrics.setLeader(false);
  }

  private schedule(task: PeriodicTask, delayMs: number): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      const started = Date.now();
      const round = this.runRound(task).finally(() => {
        this.running.delete(round);
        // Rounds of one task never overlap: one slower than the interval delays the next instead.
        this.schedule(task, Math.max(0, task.intervalMs - (Date.now() - started)));
      });
      this.running.add(round);
    }, delayMs);
    timer.unref();
    this.timers.set(task.name, timer);
  }

  private async runRound(task: PeriodicTask): Promise<void> {
    const leader = await this.lock.acquire();
    this.metrics.setLeader(leader);
    if (!leader || this.stopped) return;
    try {
      await task.run();
      this.metrics.taskRun(task.name, 'ok');
    } catch (err) {
      this.metrics.taskRun(task.name, 'error');
      this.logger.warn({ err, task: task.name }, 'periodic task failed');
    }
  }
}
