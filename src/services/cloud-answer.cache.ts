/**
 * What the matchmaker asks every candidate cloud (Nova limits, flavors, networks), kept per
 * process for a stated time so a matchmake over many clouds answers from memory instead of
 * waiting for each of them. Every answer says how old it is, so the caller can say so too.
 * Failed calls are not kept (the next caller asks again), and concurrent callers of one key share
 * one call.
 */
export interface CachedAnswer<T> {
  value: T;
  /** 0 when read just now for this caller; else how long ago it was read, in ms. */
  ageMs: number;
  /** Served from the cache rather than read for this caller. */
  cached: boolean;
}

interface Entry {
  readAt: number;
  value: unknown;
}

export class CloudAnswerCache {
  /** Oldest first (a Map keeps insertion order), so eviction drops the oldest. */
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<unknown>>();

  constructor(
    /** How old an answer may be when served; 0 keeps nothing. */
    readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 10_000,
  ) {}

  /**
   * The answer under `key` if it is at most `maxAgeMs` old (the cache's own limit unless a
   * smaller one is given; 0: always read again), else `load()`'s, which is then kept.
   */
  async get<T>(key: string, load: () => Promise<T>, maxAgeMs = this.maxAgeMs): Promise<CachedAnswer<T>> {
    const hit = this.entries.get(key);
    const limit = Math.min(maxAgeMs, this.maxAgeMs);
    if (hit && this.now() - hit.readAt <= limit && limit > 0) return { value: hit.value as T, ageMs: this.now() - hit.readAt, cached: true };
    let pending = this.loading.get(key) as Promise<T> | undefined;
    if (!pending) {
      pending = load().then((value) => {
        this.keep(key, value);
        return value;
      });
      const shared = pending.finally(() => this.loading.delete(key));
      shared.catch(() => undefined); // each caller sees the failure on its own promise
      this.loading.set(key, shared);
    }
    return { value: await pending, ageMs: 0, cached: false };
  }

  private keep(key: string, value: unknown): void {
    if (this.maxAgeMs <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { readAt: this.now(), value });
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(oldest);
    }
  }
}
