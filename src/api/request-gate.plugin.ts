/**
 * The HTTP path once Apollo has parsed and validated with the operation gate's options and rules:
 * the limits that need the variables, then authentication and the per-token rate limit, in that
 * order, so an operation refused by a limit never costs a token lookup. Also counts operations
 * in /metrics and marks every answer `cache-control: no-store`.
 */
import { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { DomainError, RateLimitedError, UnauthenticatedError } from '../domain/errors';
import { Principal } from '../domain/principal';
import type { Services } from '../services';
import { Admission } from './admission';
import { ApiContext } from './context';
import { toGraphQLError } from './error-mapping';
import { Metrics } from './metrics';
import { OperationGate } from './operation-gate';
import { RateLimiter } from './rate-limiter';

/** What the HTTP context knows before authentication: the Authorization header, unchecked. */
export interface HttpContext extends ApiContext {
  readonly authorization: string | undefined;
  readonly tokenHash: string | null;
}

export interface RequestGateDeps {
  gate: OperationGate;
  services: Services;
  metrics: Metrics;
  perToken: RateLimiter;
  admission: Admission;
}

/** RATE_LIMITED with HTTP 429 and Retry-After. */
export function rateLimitedError(waitSeconds: number): GraphQLError {
  const err = toGraphQLError(new RateLimitedError(waitSeconds));
  (err.extensions.http as { headers?: Map<string, string> }).headers = new Map([['retry-after', String(waitSeconds)]]);
  return err;
}

function withHttpStatus(err: GraphQLError, status: number): GraphQLError {
  return new GraphQLError(err.message, { nodes: err.nodes, extensions: { ...err.extensions, http: { status } } });
}

export function requestGatePlugin(d: RequestGateDeps): ApolloServerPlugin<HttpContext> {
  /** One rule for every operation: no token, or a token that is not valid, is HTTP 401 UNAUTHENTICATED. */
  async function authenticate(ctx: HttpContext): Promise<Principal> {
    if (!ctx.authorization) throw toGraphQLError(new UnauthenticatedError());
    let principal: Principal;
    try {
      principal = await d.services.auth.authenticate(ctx.authorization);
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      d.admission.refused(ctx.tokenHash);
      throw toGraphQLError(err);
    }
    d.admission.authenticated(ctx.tokenHash);
    const wait = d.perToken.take(principal.tokenId);
    if (wait > 0) {
      d.metrics.rateLimited.inc({ limit: 'token' });
      throw rateLimitedError(wait);
    }
    return principal;
  }

  return {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      let type = 'unknown';
      return {
        async didResolveOperation({ request, document, operation, contextValue }) {
          type = operation?.operation ?? 'unknown';
          const refused = d.gate.checkWithVariables(document, request.operationName, request.variables);
          if (refused.length > 0) throw withHttpStatus(refused[0], 400);
          contextValue.principal = await authenticate(contextValue);
        },
        async willSendResponse({ response }) {
          // No answer of the API may be stored by a cache (the schema has no @cacheControl hints).
          response.http.headers.set('cache-control', 'no-store');
          const failed = response.body.kind === 'single' && (response.body.singleResult.errors?.length ?? 0) > 0;
          d.metrics.graphqlOperations.inc({ type, outcome: failed ? 'error' : 'ok' });
          d.metrics.graphqlDuration.observe({ type }, Number(process.hrtime.bigint() - started) / 1e9);
        },
      };
    },
  };
}
