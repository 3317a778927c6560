/**
 * Typed domain errors. Services throw these; the API maps each code to a GraphQL error in
 * exactly one place (src/api/error-mapping.ts), and the compiler checks every code is mapped.
 */
import { PermanentStepError } from './clone-phase';

export enum ErrorCode {
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  NOT_FOUND = 'NOT_FOUND',
  CONFLICT = 'CONFLICT',
  RATE_LIMITED = 'RATE_LIMITED',
  UPSTREAM_UNAVAILABLE = 'UPSTREAM_UNAVAILABLE',
  INTERNAL = 'INTERNAL',
}

/**
 * Whether trying again may succeed. Failures are classified once, where they happen: the
 * adapters mark upstream failures `retryable` (timeouts, resets, 5xx, 429, busy 409) or not
 * (other 4xx, refused credentials, a missing endpoint); everything else is permanent.
 */
export function isRetryable(err: unknown): boolean {
  return err instanceof DomainError && err.code === ErrorCode.UPSTREAM_UNAVAILABLE && err.details.retryable === true;
}

/**
 * An error's message as a tenant may read it. Domain errors are written for tenants (upstream
 * text reduced to the fault's own bounded message); anything else may carry internals (SQL, a
 * stack, another tenant's ids) and is only named.
 */
export function tenantMessage(err: unknown): string {
  return err instanceof DomainError || err instanceof PermanentStepError ? err.message : "internal error (the broker's log has the detail)";
}

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** Input that breaks a rule; `field` is the dotted path of the offending argument field. */
export class BadUserInputError extends DomainError {
  constructor(
    readonly field: string,
    readonly rule: string,
    message?: string,
  ) {
    super(ErrorCode.BAD_USER_INPUT, message ?? `${field}: ${rule}`, { field, rule });
  }
}

export class NotFoundError extends DomainError {
  constructor(kind: string, id: string) {
    // Same message whether the object is missing or belongs to another tenant.
    super(ErrorCode.NOT_FOUND, `${kind} ${id} not found`, { kind });
  }
}

export class ForbiddenError extends DomainError {
  constructor(message: string) {
    super(ErrorCode.FORBIDDEN, message);
  }
}

export class UnauthenticatedError extends DomainError {
  constructor(message = 'a valid bearer token is required') {
    super(ErrorCode.UNAUTHENTICATED, message);
  }
}

export class ConflictError extends DomainError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.CONFLICT, message, details);
  }
}

export class UpstreamUnavailableError extends DomainError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.UPSTREAM_UNAVAILABLE, message, details);
  }
}

/**
 * The cloud refused an action because the server is in the middle of another task (Nova's 409
 * "while it is in task_state image_snapshot"): nothing was done, and the action can succeed once
 * that task ends. Retrying a few times within seconds is pointless when the other task (a
 * snapshot) takes minutes, so the adapter does not retry it; a caller that can wait (the SNAPSHOT
 * step) polls the server's task state instead. Marked retryable so a caller that does not wait
 * still gets the runner's ordinary step retries.
 */
export class ServerBusyError extends UpstreamUnavailableError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, { ...details, retryable: true, busy: true });
  }
}

export class RateLimitedError extends DomainError {
  constructor(readonly retryAfterSeconds: number) {
    super(ErrorCode.RATE_LIMITED, `rate limit exceeded, retry after ${retryAfterSeconds}s`, { retryAfterSeconds });
  }
}
