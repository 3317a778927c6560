/**
 * The errors of the integration adapters (SSH, Nagios, the SIP load balancer): one
 * UpstreamUnavailableError per failure, naming the server and the cause, with a `reason` a step
 * can branch on and `retryable` set where the failure happens.
 *
 * As for cloud endpoints (src/adapters/openstack/http.client.ts), a tenant chose these addresses:
 * every failure below the protocol (refused, reset, unresolvable, timed out) reads the same, so
 * the broker cannot be used to map which ports answer on a network it can reach. The real cause
 * stays in `details.detail` and `cause`, for the log.
 */
import { UpstreamUnavailableError } from '../../domain/errors';
import { codeOf, ENDPOINT_REFUSED, NO_ANSWER } from './guarded-transport';

export { NO_ANSWER };

export type IntegrationFailure =
  /** Below the protocol: connection refused, reset, unresolvable name, connect or handshake timeout. */
  | 'NO_ANSWER'
  /** The endpoint policy refuses an address of the host: nothing was sent. */
  | 'ENDPOINT_REFUSED'
  /** No usable pinned host key to check the server against. */
  | 'HOST_KEY_MISSING'
  /** The server presented another host key than the pinned one. */
  | 'HOST_KEY_MISMATCH'
  /** The server refused our credentials (SSH key, HTTP basic, MySQL account). */
  | 'AUTH_REFUSED'
  /** The private key cannot be used (malformed, encrypted without or with a wrong passphrase). */
  | 'BAD_KEY'
  /** A command, transfer or request did not finish in time (the server did answer before). */
  | 'TIMEOUT'
  /** The server answered, but not as the protocol says (an HTTP error status, a body that is not JSON, an RPC error). */
  | 'BAD_RESPONSE'
  /** A remote operation failed (SFTP, a command's non-zero exit where success is required, SQL). */
  | 'OPERATION_FAILED'
  /** Nagios's verification refused the configuration (nothing was reloaded). */
  | 'VERIFY_FAILED';

/** Failures a later attempt may not meet again. */
const TRANSIENT: ReadonlySet<IntegrationFailure> = new Set(['NO_ANSWER', 'TIMEOUT']);

export interface IntegrationErrorOptions {
  /** Overrides the default for the reason (BAD_RESPONSE from a 503 is worth another try). */
  retryable?: boolean;
  /** The real cause, for the log only. */
  detail?: string;
  cause?: unknown;
  extra?: Record<string, unknown>;
}

/** `<server>: <problem>`; server is e.g. `SSH root@127.0.0.5:2222`, `Nagios http://host/...statusjson.cgi`. */
export function integrationError(server: string, reason: IntegrationFailure, problem: string, options: IntegrationErrorOptions = {}): UpstreamUnavailableError {
  const error = new UpstreamUnavailableError(`${server}: ${problem}`, {
    server,
    reason,
    retryable: options.retryable ?? TRANSIENT.has(reason),
    ...(options.detail !== undefined ? { detail: options.detail } : {}),
    ...options.extra,
  });
  if (options.cause !== undefined) Object.defineProperty(error, 'cause', { value: options.cause, enumerable: false, configurable: true });
  return error;
}

/** An error's own message, or its code; for `details.detail`. */
export function errorText(err: unknown): string {
  const e = err as { message?: unknown; errors?: Array<{ message?: unknown }> } | null;
  const message = typeof e?.message === 'string' && e.message ? e.message : e?.errors?.map((x) => String(x.message)).join('; ');
  const code = codeOf(err) ?? codeOf((err as { cause?: unknown } | null)?.cause);
  const text = message || code || String(err);
  return code && !text.includes(code) ? `${text} (${code})` : text;
}

/** The code of the error or of its cause (undici wraps the connector's error). */
export function deepCode(err: unknown): string | undefined {
  return codeOf(err) ?? codeOf((err as { cause?: unknown } | null)?.cause);
}

/**
 * A failure to connect, as the tenant reads it: the policy's refusal in its own words (nothing
 * was sent, and the rule is the operator's, not a property of the network), anything else NO_ANSWER.
 */
export function connectionError(server: string, err: unknown, extra?: Record<string, unknown>): UpstreamUnavailableError {
  if (deepCode(err) === ENDPOINT_REFUSED) {
    const reason = (err as { reason?: string }).reason ?? (err as { cause?: { reason?: string } }).cause?.reason ?? errorText(err);
    return integrationError(server, 'ENDPOINT_REFUSED', `the host ${reason}`, { cause: err, extra });
  }
  return integrationError(server, 'NO_ANSWER', NO_ANSWER, { detail: errorText(err), cause: err, extra });
}

/** Text a server sent (plugin output, an RPC error message) as a message may carry it: control characters out, bounded. */
export function cleanText(text: unknown, max = 500): string {
  if (typeof text !== 'string') return '';
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}...` : flat;
}
