/** Per-request (or per-WebSocket-operation) context: the caller and the services. */
import { Logger } from 'pino';
import { RateLimitedError, UnauthenticatedError } from '../domain/errors';
import { Principal } from '../domain/principal';
import type { Services } from '../services';
import { RateLimiter } from './rate-limiter';
import { RelatedRowLoaders } from './related-rows.loaders';

export interface ApiContext {
  /** Set once the operation has passed every limit: authentication is the last check before it runs. */
  principal: Principal | null;
  services: Services;
  logger: Logger;
  /** Executions of fields that reach outside the broker, charged to the caller (outside-call.middleware.ts). */
  readonly outsideCalls: OutsideCallMeter;
  /** Batches the related-row lookups of field resolvers (one per request, see related-rows.loaders.ts). */
  readonly loaders: RelatedRowLoaders;
}

/**
 * Counts executions of fields that reach outside the broker (a Keystone, Nova, a clone) toward
 * the caller's per-token rate limit, so aliases cannot multiply what one request may do. The
 * request's own unit covers the first. One per request; Apollo copies the context object per
 * operation, which is why the principal is passed in rather than captured.
 */
export class OutsideCallMeter {
  private count = 0;

  constructor(
    private readonly perToken: RateLimiter,
    private readonly onRateLimited: () => void,
  ) {}

  /** Throws RATE_LIMITED once the caller's budget is spent; anonymous callers are refused by the resolver. */
  charge(principal: Principal | null): void {
    if (!principal || ++this.count === 1) return;
    const wait = this.perToken.take(principal.tokenId);
    if (wait > 0) {
      this.onRateLimited();
      throw new RateLimitedError(wait);
    }
  }
}

export interface ContextDeps {
  services: Services;
  logger: Logger;
  perToken: RateLimiter;
  onRateLimited: () => void;
}

export function createApiContext(deps: ContextDeps, principal: Principal | null = null): ApiContext {
  return {
    principal,
    services: deps.services,
    logger: deps.logger,
    outsideCalls: new OutsideCallMeter(deps.perToken, deps.onRateLimited),
    loaders: new RelatedRowLoaders(deps.services),
  };
}

/** The caller, or UNAUTHENTICATED: every operation except none needs one. */
export function callerOf(ctx: ApiContext): Principal {
  if (!ctx.principal) throw new UnauthenticatedError();
  return ctx.principal;
}
