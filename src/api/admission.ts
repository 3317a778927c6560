/**
 * Whether a request may make the broker do any work at all, decided before parsing. A request
 * whose bearer token authenticated recently on this replica goes on (its per-token limit applies
 * once it has passed validation); any other (no token, an unknown or a bad one) takes one unit of
 * its client address's anonymous budget, so one address cannot make the broker parse, validate or
 * look up tokens faster than RATE_LIMIT_ANONYMOUS_PER_MINUTE. "Recently valid" only admits: the
 * token is still looked up and checked for every operation.
 */
import { hashTokenSecret } from '../services/token-secret';
import { RateLimiter } from './rate-limiter';

const REMEMBER_MS = 10 * 60_000;
const MAX_REMEMBERED = 100_000;

/** The hash of the bearer secret in an Authorization header, or null without one. */
export function bearerHash(authorization: string | undefined | null): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match ? hashTokenSecret(match[1]) : null;
}

export class Admission {
  private readonly recentlyValid = new Map<string, number>();

  constructor(private readonly anonymous: RateLimiter) {}

  /**
   * 0 if the request may go on, else the seconds its address must wait. The address may be given
   * as a function: it is worked out only when the token is not recently valid.
   */
  admit(address: string | (() => string), tokenHash: string | null, now = Date.now()): number {
    if (tokenHash !== null && (this.recentlyValid.get(tokenHash) ?? 0) > now) return 0;
    return this.anonymous.take(typeof address === 'function' ? address() : address, now);
  }

  authenticated(tokenHash: string | null, now = Date.now()): void {
    if (tokenHash === null) return;
    this.recentlyValid.set(tokenHash, now + REMEMBER_MS);
    if (this.recentlyValid.size > MAX_REMEMBERED) {
      for (const [hash, until] of this.recentlyValid) if (until <= now) this.recentlyValid.delete(hash);
      // Still full of live entries: forget the oldest rather than grow.
      for (const hash of this.recentlyValid.keys()) {
        if (this.recentlyValid.size <= MAX_REMEMBERED) break;
        this.recentlyValid.delete(hash);
      }
    }
  }

  refused(tokenHash: string | null): void {
    if (tokenHash !== null) this.recentlyValid.delete(tokenHash);
  }
}
