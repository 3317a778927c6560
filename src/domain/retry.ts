/**
 * Retry rules shared by the HTTP layer and the clone pipeline: one backoff formula, one sleep,
 * and one budget of transient failures per clone step that both layers draw from, so retries at
 * one layer never multiply with retries at the other.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface Backoff {
  baseMs: number;
  capMs: number;
}

/** Capped exponential backoff with equal jitter: half of the delay fixed, half random. */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  const exponential = Math.min(backoff.capMs, backoff.baseMs * 2 ** Math.max(0, attempt - 1));
  return exponential / 2 + (random() * exponential) / 2;
}

/** Resolves after `ms`; rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * How many transient failures one unit of work (a clone step) may absorb, wherever they
 * happen: an HTTP call retried inside the adapter and the step re-run by the runner both spend
 * from it, so a failing call is tried `limit` times in all, not `limit` times per layer.
 */
export class RetryBudget {
  private spent = 0;
  /** Errors already paid for by the layer that threw them: the layer above must not count them again. */
  private readonly paidFor = new WeakSet<object>();

  constructor(readonly limit: number) {}

  /** Records one transient failure, unless `err` was already paid for. */
  spend(err?: unknown): void {
    if (err !== null && typeof err === 'object') {
      if (this.paidFor.has(err)) return;
      this.paidFor.add(err);
    }
    this.spent += 1;
  }

  /** Marks an error thrown after its failure was spent (see `spend`). */
  paid<E>(err: E): E {
    if (err !== null && typeof err === 'object') this.paidFor.add(err);
    return err;
  }

  /** Whether another attempt may be made. */
  allowsRetry(): boolean {
    return this.spent < this.limit;
  }

  get failures(): number {
    return this.spent;
  }
}

const budgets = new AsyncLocalStorage<RetryBudget>();

/** Runs `fn` with `budget` as the retry budget of every call made inside it (however deep). */
export function withRetryBudget<T>(budget: RetryBudget, fn: () => Promise<T>): Promise<T> {
  return budgets.run(budget, fn);
}

/** The budget of the unit of work this call belongs to, if it runs under one. */
export function currentRetryBudget(): RetryBudget | undefined {
  return budgets.getStore();
}
