/**
 * A level-triggered wake-up: a notify() before wait() is not lost. A subscriber waits on its
 * signal once per event; the abort listener is added once per AbortSignal rather than added and
 * removed on every wait (that pair was a visible share of the broker's CPU with a thousand
 * subscribers on a stream).
 */
export class WakeSignal {
  private pending = false;
  private waiter: (() => void) | null = null;
  private watched: AbortSignal | undefined;

  notify(): void {
    this.pending = true;
    this.wakeWaiter();
  }

  /** Resolves on the next (or an already pending) notify, or when `signal` aborts. */
  wait(signal?: AbortSignal): Promise<void> {
    if (this.pending || signal?.aborted) {
      this.pending = false;
      return Promise.resolve();
    }
    if (signal && signal !== this.watched) {
      this.watched = signal;
      signal.addEventListener('abort', () => this.wakeWaiter(), { once: true });
    }
    return new Promise<void>((resolve) => {
      this.waiter = () => {
        this.pending = false;
        resolve();
      };
    });
  }

  private wakeWaiter(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }
}

/**
 * Wraps an async generator so that `return()` (a client unsubscribing) takes effect at once:
 * a plain generator parked on an `await` would only notice at its next event.
 */
export function abortableIterator<T>(make: (signal: AbortSignal) => AsyncGenerator<T>, outer?: AbortSignal): AsyncIterableIterator<T> {
  const controller = new AbortController();
  outer?.addEventListener('abort', () => controller.abort(), { once: true });
  const gen = make(controller.signal);
  const iterator: AsyncIterableIterator<T> = {
    next: () => gen.next(),
    return: async (value?: unknown) => {
      controller.abort();
      await gen.return(undefined as never).catch(() => undefined);
      return { done: true, value: value as T };
    },
    throw: async (err?: unknown) => {
      controller.abort();
      return gen.throw(err);
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
