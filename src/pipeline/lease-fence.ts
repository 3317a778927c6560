/**
 * The runner's own view of its lease, on the monotonic clock. A broker that was paused (SIGSTOP,
 * a long GC, a frozen VM) past its lease may wake up in the middle of a step, before its
 * heartbeat has had a chance to learn that another broker took the job over; every cloud call
 * first asks the fence, so such a broker stops before it creates or deletes anything.
 */
import { performance } from 'node:perf_hooks';

/** Thrown when the lease can no longer be assumed held: the job is another broker's now. */
export class LeaseExpiredError extends Error {
  constructor(jobId: string) {
    super(`the lease on clone job ${jobId} was not renewed in time; stopping before the next cloud call`);
    this.name = 'LeaseExpiredError';
  }
}

export class LeaseFence {
  private heldUntil: number;

  /**
   * `validMs` is how long after a renewal was *sent* the lease is still assumed held; shorter
   * than the lease itself, so this broker gives up before the database would hand the job on.
   */
  constructor(
    private readonly jobId: string,
    private readonly validMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.heldUntil = this.now() + validMs;
  }

  /** Call just before sending a renewal; pass the result to `renewed` when it succeeds. */
  stamp(): number {
    return this.now();
  }

  renewed(sentAt: number): void {
    this.heldUntil = Math.max(this.heldUntil, sentAt + this.validMs);
  }

  /** The lease is gone for good (another broker has it). */
  lost(): void {
    this.heldUntil = -Infinity;
  }

  assertHeld(): void {
    if (this.now() > this.heldUntil) throw new LeaseExpiredError(this.jobId);
  }
}

/** `target` with every method call preceded by `fence.assertHeld()`. */
export function fenced<T extends object>(target: T, fence: LeaseFence): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        fence.assertHeld();
        return (value as (...a: unknown[]) => unknown).apply(obj, args);
      };
    },
  });
}
