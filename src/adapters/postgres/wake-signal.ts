/** A level-triggered wake-up: a notify() before wait() is not lost. */
export class WakeSignal {
  private pending = false;
  private resolve: (() => void) | null = null;

  notify(): void {
    this.pending = true;
    this.resolve?.();
    this.resolve = null;
  }

  /** Resolves on the next (or an already pending) notify, or when `signal` aborts. */
  wait(signal?: AbortSignal): Promise<void> {
    if (this.pending || signal?.aborted) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const onAbort = () => resolve();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.resolve = () => {
        signal?.removeEventListener('abort', onAbort);
        this.pending = false;
        resolve();
      };
    });
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
