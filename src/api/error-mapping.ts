/**
 * The one place domain errors become GraphQL errors. `satisfies Record<ErrorCode, ...>` makes
 * the compiler reject a new code that is not mapped. Anything else is masked as INTERNAL; the
 * log keeps the detail.
 */
import { GraphQLError, GraphQLFormattedError } from 'graphql';
import { Logger } from 'pino';
import { DomainError, ErrorCode } from '../domain/errors';
import { unwrapResolverError } from '@apollo/server/errors';
import { tokenLimitErrorFor } from './limits';

const httpStatus = {
  [ErrorCode.UNAUTHENTICATED]: 401,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.BAD_USER_INPUT]: 400,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.CONFLICT]: 409,
  [ErrorCode.RATE_LIMITED]: 429,
  [ErrorCode.UPSTREAM_UNAVAILABLE]: 502,
  [ErrorCode.INTERNAL]: 500,
} satisfies Record<ErrorCode, number>;

/** Extensions safe to show a client, per code. */
function publicExtensions(err: DomainError): Record<string, unknown> {
  const ext: Record<string, unknown> = { code: err.code };
  if (typeof err.details.field === 'string') ext.field = err.details.field;
  if (typeof err.details.rule === 'string') ext.rule = err.details.rule;
  if (typeof err.details.retryAfterSeconds === 'number') ext.retryAfterSeconds = err.details.retryAfterSeconds;
  if (typeof err.details.cloudId === 'string') ext.cloudId = err.details.cloudId;
  return ext;
}

export function toGraphQLError(err: DomainError): GraphQLError {
  return new GraphQLError(err.message, {
    extensions: { ...publicExtensions(err), http: { status: httpStatus[err.code] } },
  });
}

/** GraphQL's own errors (parse, validation, variable coercion) pass through with their codes. */
const passThroughCodes = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  ...Object.values(ErrorCode),
]);

/**
 * Apollo's formatError over HTTP; the WebSocket transport calls it on every error it sends, so
 * both transports mask and code errors the same way.
 */
export function formatError(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (original instanceof DomainError) {
      // The tenant reads one sentence about an upstream failure; the cause (details.detail, err.cause) is kept here.
      if (original.code === ErrorCode.UPSTREAM_UNAVAILABLE) logger.warn({ err: original, path: formatted.path }, 'upstream failure in GraphQL operation');
      return { message: original.message, path: formatted.path, locations: formatted.locations, extensions: publicExtensions(original) };
    }
    // The parser stopping at GRAPHQL_MAX_TOKENS is a limit like the others, not a syntax error.
    const overTokens = formatted.extensions?.code === 'GRAPHQL_PARSE_FAILED' ? tokenLimitErrorFor(formatted.message) : null;
    if (overTokens) return { message: overTokens.message, extensions: overTokens.extensions };
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && passThroughCodes.has(code) && !(original instanceof Error && !(original instanceof GraphQLError))) {
      // `http` is Apollo's (it strips it over HTTP; graphql-ws would send it).
      const { stacktrace: _drop, http: _http, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, extensions };
    }
    logger.error({ err: original, path: formatted.path }, 'internal error in GraphQL operation');
    return { message: 'Internal server error', path: formatted.path, locations: formatted.locations, extensions: { code: ErrorCode.INTERNAL } };
  };
}
