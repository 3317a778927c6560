/**
 * Verified bearer tokens, kept for a few seconds per process so the API's hot path does not read
 * `api_tokens` on every request. Revocation is pushed (TokenRevocations), so a revoked token is
 * dropped everywhere at once and the TTL only bounds what a lost announcement could cost. While
 * announcements are not arriving, nothing is served from the cache.
 */
import { Principal } from '../domain/principal';
import { TokenRevocations } from '../ports/token-revocations.port';

export interface VerifiedToken {
  principal: Principal;
  /** When the token was last recorded as used (ms since the epoch), as this process knows it. */
  lastUsedAt: number | null;
}

interface Entry {
  /** The object every request gets, so what one records (lastUsedAt) the next ones see. */
  token: VerifiedToken;
  expiresAt: number;
}

export class TokenVerificationCache {
  /** By secret hash, oldest first (a Map keeps insertion order), so eviction drops the oldest. */
  private readonly entries = new Map<string, Entry>();
  /** Loads under way, so a burst of requests with one uncached token reads it once. */
  private readonly loading = new Map<string, { generation: number; promise: Promise<VerifiedToken | null> }>();
  /** Bumped by every revocation: a load that began before one must not be cached after it. */
  private generation = 0;

  constructor(
    private readonly revocations: TokenRevocations,
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {
    revocations.subscribe((ids) => (ids ? this.forget(ids) : this.clear()));
  }

  /** The token behind `secretHash` from the cache, else from `load` (null: not a valid token, never cached). */
  async verify(secretHash: string, load: () => Promise<VerifiedToken | null>): Promise<VerifiedToken | null> {
    const trusted = this.ttlMs > 0 && this.revocations.isListening();
    const hit = this.entries.get(secretHash);
    if (hit && trusted && hit.expiresAt > Date.now()) return hit.token;
    if (hit) this.entries.delete(secretHash);
    const generation = this.generation;
    const pending = this.loading.get(secretHash);
    if (pending && pending.generation === generation) return pending.promise;
    const promise = load()
      .then((loaded) => {
        if (loaded && trusted && generation === this.generation && this.revocations.isListening()) this.store(secretHash, loaded);
        return loaded;
      })
      .finally(() => {
        if (this.loading.get(secretHash)?.promise === promise) this.loading.delete(secretHash);
      });
    this.loading.set(secretHash, { generation, promise });
    return promise;
  }

  /** Drops these tokens (revoked here, or announced by another replica). */
  forget(tokenIds: readonly string[]): void {
    this.generation++;
    const revoked = new Set(tokenIds);
    for (const [hash, entry] of this.entries) if (revoked.has(entry.token.principal.tokenId)) this.entries.delete(hash);
  }

  private clear(): void {
    this.generation++;
    this.entries.clear();
  }

  private store(secretHash: string, token: VerifiedToken): void {
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(secretHash, { token, expiresAt: Date.now() + this.ttlMs });
  }
}
