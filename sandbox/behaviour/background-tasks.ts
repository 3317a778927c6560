/**
 * The cloud's asynchronous work (builds, deletes, snapshots, floating IP wiring): every task is
 * tracked, so stop() can abort them and wait for them instead of leaving promises behind.
 */
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';

export class BackgroundTasks {
  private readonly controller = new AbortController();
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly log: Logger) {
    // Every in-flight request and timer listens to this signal; dozens at once are normal, not a leak.
    setMaxListeners(0, this.controller.signal);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  run(name: string, task: (signal: AbortSignal) => Promise<void>): void {
    if (this.controller.signal.aborted) return;
    const promise = task(this.controller.signal)
      .catch((err: unknown) => {
        if (!this.controller.signal.aborted) this.log.error({ err, task: name }, 'sandbox background task failed');
      })
      .finally(() => this.running.delete(promise));
    this.running.add(promise);
  }

  /** Sleeps, unless the cloud stops first (then rejects with an AbortError). */
  delay(ms: number): Promise<void> {
    return ms > 0 ? sleep(ms, undefined, { signal: this.controller.signal }) : Promise.resolve();
  }

  async stop(): Promise<void> {
    this.controller.abort();
    await Promise.allSettled([...this.running]);
  }
}
