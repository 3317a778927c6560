/**
 * The one error class of the SDK. Whatever failed (the broker refused an operation, the token was
 * refused, the broker could not be reached, a subscription was rejected), callers catch an
 * IntercloudError and read `code`, and for bad input `field` (the dotted path of the offending
 * argument, e.g. `thresholds.0.warningHoldSeconds`) and `rule` (what it broke).
 */

/** The broker's codes (extensions.code), GraphQL's own, and two of the client's. */
export type IntercloudErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'RATE_LIMITED'
  | 'UPSTREAM_UNAVAILABLE'
  | 'INTERNAL'
  | 'GRAPHQL_VALIDATION_FAILED'
  | 'GRAPHQL_PARSE_FAILED'
  | 'BAD_REQUEST'
  | 'PAYLOAD_TOO_LARGE'
  /** The broker could not be reached (connection refused, DNS, TLS, timeout). */
  | 'NETWORK'
  /** The broker answered with something that is not a GraphQL response. */
  | 'BAD_RESPONSE'
  | (string & {});

/** A GraphQL error as the broker formats it. */
export interface GraphQLErrorShape {
  message: string;
  path?: readonly (string | number)[];
  extensions?: { code?: string; field?: string; rule?: string; retryAfterSeconds?: number; [k: string]: unknown };
}

export class IntercloudError extends Error {
  override readonly name = 'IntercloudError';

  constructor(
    message: string,
    readonly code: IntercloudErrorCode,
    /** Dotted path of the input field that broke a rule (BAD_USER_INPUT, some CONFLICTs). */
    readonly field: string | null = null,
    /** The rule the field broke, in words (BAD_USER_INPUT). */
    readonly rule: string | null = null,
    /** HTTP status of the response, when there was one. */
    readonly status: number | null = null,
    /** Every error of the response (the first is this one). */
    readonly errors: readonly GraphQLErrorShape[] = [],
    /** RATE_LIMITED: when to try again. */
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(message);
  }

  /** The first error of a GraphQL response decides; all are kept in `errors`. */
  static fromGraphQL(errors: readonly GraphQLErrorShape[], status: number | null = null): IntercloudError {
    const first = errors[0] ?? { message: 'unknown error' };
    const ext = first.extensions ?? {};
    return new IntercloudError(
      first.message,
      typeof ext.code === 'string' ? ext.code : 'INTERNAL',
      typeof ext.field === 'string' ? ext.field : null,
      typeof ext.rule === 'string' ? ext.rule : null,
      status,
      errors,
      typeof ext.retryAfterSeconds === 'number' ? ext.retryAfterSeconds : null,
    );
  }

  static network(url: string, cause: unknown): IntercloudError {
    const why = cause instanceof Error ? ((cause as Error & { cause?: Error }).cause?.message ?? cause.message) : String(cause);
    return new IntercloudError(`cannot reach the broker at ${url}: ${why}`, 'NETWORK');
  }

  /** True for errors that a caller may retry as they are (the broker was away or busy). */
  get retryable(): boolean {
    return this.code === 'NETWORK' || this.code === 'RATE_LIMITED' || this.code === 'UPSTREAM_UNAVAILABLE';
  }

  /** True when the token is missing, unknown, revoked or lacks the role. */
  get isAuth(): boolean {
    return this.code === 'UNAUTHENTICATED' || this.code === 'FORBIDDEN';
  }
}
