/**
 * HTTP to one cloud's OpenStack services: a timeout on every attempt, bounded retries with
 * capped exponential backoff on transient failures, one token renewal on a 401, and one final
 * error that names the cloud, the service and the operation. Every response body is either read
 * to the end or handed to the caller as a stream; error bodies are always read (no socket leaks).
 *
 * What a tenant reads of an upstream failure is only the OpenStack fault's own `message` (bounded,
 * stripped) or, for anything below HTTP, one sentence whatever the cause: an endpoint is the
 * partner's choice, and differing words for "refused", "reset" or "timed out" would make the
 * broker a port scanner. The error's `details.detail` and `cause` keep the real cause for the log.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { type Dispatcher, request } from 'undici';
import { ConflictError, UpstreamUnavailableError } from '../../domain/errors';
import { backoffDelay, currentRetryBudget, sleep } from '../../domain/retry';
import { ENDPOINT_REFUSED, NO_ANSWER } from '../net/guarded-transport';

export type ServiceName = 'keystone' | 'nova' | 'glance' | 'neutron';

export interface HttpPolicy {
  /** One attempt of an ordinary (JSON) call, headers and body together. */
  timeoutMs: number;
  /** Image transfers have no overall deadline: this bounds the wait for response headers and each pause in the body. */
  streamIdleTimeoutMs: number;
  /** Attempts per call, the first included. */
  attempts: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  /**
   * After a create got no answer at all (timeout, reset), how long to keep looking for what it
   * may have made before sending it again: the service may still be creating it (nova-api
   * finishes a request whose client has gone).
   */
  createGraceMs: number;
}

export const DEFAULT_HTTP_POLICY: HttpPolicy = {
  timeoutMs: 30_000,
  streamIdleTimeoutMs: 120_000,
  attempts: 4,
  backoffBaseMs: 250,
  backoffCapMs: 4_000,
  createGraceMs: 15_000,
};

/** How often a create's reconcile looks again during the grace period. */
const GRACE_POLL_MS = 1_000;

export interface CloudLabel {
  name: string;
  cloudId: string | null;
}

export function describeCloud(cloud: CloudLabel): string {
  return `cloud ${cloud.name}${cloud.cloudId ? ` (${cloud.cloudId})` : ''}`;
}

/** Supplies the X-Auth-Token; told when a service rejected it so the next call authenticates again. */
export interface TokenProvider {
  token(): Promise<string>;
  rejected(token: string): void;
}

/**
 * idempotent: repeating it is harmless (GET, PUT, DELETE, read-only actions); every transient failure is retried.
 * create: it may make something. Retried freely only when the cloud provably did nothing (not connected, 409
 *   busy, 429); after an ambiguous failure (5xx, reset, timeout) `reconcile` looks for what the attempt may
 *   have made and returns it, and only when it finds nothing is the request sent again. Without a reconcile
 *   an ambiguous failure is final.
 * once: the body is a stream that cannot be replayed (image upload).
 */
export type RetryMode = 'idempotent' | 'create' | 'once';

export interface CallSpec {
  service: ServiceName;
  method: Dispatcher.HttpMethod;
  /** The operation as errors show it: a path template under the service endpoint, `PUT /v2/images/{id}/file`. */
  operation: string;
  url: string;
  retry: RetryMode;
  headers?: Record<string, string>;
  json?: unknown;
  body?: Readable;
  auth?: TokenProvider;
  /** Non-2xx statuses returned to the caller rather than thrown (404 on show or delete). */
  accept?: number[];
  /** 409 means "busy, ask again later" here (a server delete refused during a task); nothing was changed. */
  conflictIsBusy?: boolean;
  /** Image transfer: idle timeouts instead of an overall deadline. */
  streaming?: boolean;
  signal?: AbortSignal;
}

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  header(name: string): string | undefined;
  /** The body as JSON; an UpstreamUnavailableError naming the operation when it is not JSON. */
  json<T>(): T;
}

export interface StreamResult {
  status: number;
  headers: IncomingHttpHeaders;
  /** Unread; the caller must consume or destroy it. */
  body: Readable;
  header(name: string): string | undefined;
}

interface Failure {
  /** Worth another attempt. */
  transient: boolean;
  /** The cloud may have carried the request out (matters for creates only). */
  maybeApplied: boolean;
  /** No answer came back at all (timeout, reset): the cloud may still be carrying it out. */
  unanswered?: boolean;
  /** What the tenant reads. */
  problem: string;
  /** What only the log reads (the connection-level cause). */
  detail?: string;
  /** Below HTTP: the tenant's message is NO_ANSWER and nothing else, not even how many attempts were made. */
  connectionLevel?: boolean;
  status?: number;
  retryAfterMs?: number;
  cause?: unknown;
}

/** The one sentence for every failure below HTTP (refused, reset, unresolvable, TLS, timed out, no answer). */
export { NO_ANSWER };

/** How refusals name the endpoint a service call was going to. */
const ENDPOINT_OF: Record<ServiceName, string> = {
  keystone: 'the Keystone URL',
  nova: 'the compute endpoint',
  glance: 'the image endpoint',
  neutron: 'the network endpoint',
};

/** Upstream text shown to tenants is at most this long. */
const MAX_UPSTREAM_MESSAGE = 300;

/** Connection-level failures where the request never reached the service. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);
const NETWORK = new Set([
  ...NOT_SENT,
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

function headerOf(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * The human part of an OpenStack error body: the fault's own `message` field (Nova, Neutron,
 * Keystone and Glance each nest it differently), with markup and control characters stripped and
 * bounded. Anything else (an HTML page, plain text, JSON without a message) gives "": a raw body
 * is never passed on, whatever answered.
 */
export function upstreamMessage(text: string): string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return '';
  }
  let message: string | undefined;
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const top = body as Record<string, unknown>;
    if (typeof top.message === 'string') message = top.message;
    for (const value of Object.values(top)) {
      if (message !== undefined) break;
      const inner = value as Record<string, unknown> | null;
      if (inner && typeof inner === 'object' && typeof inner.message === 'string') message = inner.message;
    }
  }
  return cleanUpstreamText(message ?? '');
}

/** Markup (webob's HTML, the <br /> Glance leaves in JSON messages) and control characters out, whitespace collapsed, bounded. */
export function cleanUpstreamText(text: string): string {
  const flat = text
    .slice(0, 4 * MAX_UPSTREAM_MESSAGE)
    .replace(/<[^<>]*>/g, ' ')
    // Terminal escape sequences whole (CSI and OSC), then any control character left.
    // eslint-disable-next-line no-control-regex
    .replace(/\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(\u0007|\u001b\\)?/g, ' ')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029<>]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return flat.length > MAX_UPSTREAM_MESSAGE ? `${flat.slice(0, MAX_UPSTREAM_MESSAGE)}...` : flat;
}

function retryAfterMs(headers: IncomingHttpHeaders): number | undefined {
  const value = headerOf(headers, 'retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown }; errors?: Array<{ code?: unknown }> };
  const code = e?.code ?? e?.cause?.code ?? e?.errors?.[0]?.code;
  return typeof code === 'string' ? code : undefined;
}

function errorText(err: unknown): string {
  const e = err as { message?: string; errors?: Array<{ message?: string }> };
  return e?.message || e?.errors?.map((x) => x.message).join('; ') || errorCode(err) || String(err);
}

export class OpenStackHttpClient {
  constructor(
    readonly cloud: CloudLabel,
    readonly policy: HttpPolicy,
    private readonly dispatcher: Dispatcher,
  ) {}

  /** A buffered call: JSON in, text/JSON out. */
  async request(spec: CallSpec): Promise<HttpResult> {
    const outcome = await this.run<never>(spec);
    return outcome as HttpResult;
  }

  /**
   * A call that may create something (`retry: 'create'`): `parse` turns the answer into the result;
   * `reconcile` finds what an ambiguous attempt may have made (see RetryMode).
   */
  async create<T>(spec: CallSpec, parse: (res: HttpResult) => T, reconcile?: () => Promise<T | undefined>): Promise<T> {
    const outcome = await this.run(spec, reconcile);
    return 'reconciled' in outcome ? outcome.reconciled : parse(outcome as HttpResult);
  }

  /** A call whose successful body is handed over unread (image download); 204 and accepted errors come as empty streams. */
  async stream(spec: CallSpec): Promise<StreamResult> {
    const outcome = (await this.run<never>({ ...spec, streaming: true }, undefined, true)) as HttpResult | StreamResult;
    if ('body' in outcome) return outcome;
    return { status: outcome.status, headers: outcome.headers, header: outcome.header, body: Readable.from([]) };
  }

  /** `cloud X (id): glance PUT /v2/images/{id}/file` */
  where(spec: Pick<CallSpec, 'service' | 'operation'>): string {
    return `${describeCloud(this.cloud)}: ${spec.service} ${spec.operation}`;
  }

  details(spec: Pick<CallSpec, 'service' | 'operation'>, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { cloudId: this.cloud.cloudId, cloudName: this.cloud.name, service: spec.service, operation: spec.operation, ...extra };
  }

  private async run<T>(
    spec: CallSpec,
    reconcile?: () => Promise<T | undefined>,
    handOverBody = false,
  ): Promise<HttpResult | StreamResult | { reconciled: T }> {
    const maxAttempts = spec.retry === 'once' ? 1 : Math.max(1, this.policy.attempts);
    let reauthenticated = false;
    for (let attempt = 1; ; attempt++) {
      const token = spec.auth ? await spec.auth.token() : undefined;
      let failure: Failure;
      try {
        const outcome = await this.attempt(spec, token, handOverBody);
        if (outcome.status === 401 && spec.auth && token) spec.auth.rejected(token);
        if (outcome.status === 401 && spec.auth && !reauthenticated && !spec.body) {
          // Revoked or expired early: authenticate once more; this does not count as an attempt.
          // (A stream body cannot be sent twice: that call fails and the pipeline retries the transfer.)
          reauthenticated = true;
          attempt -= 1;
          continue;
        }
        if ('failure' in outcome) failure = outcome.failure;
        else return outcome.result;
      } catch (err) {
        if (spec.signal?.aborted) throw spec.signal.reason;
        failure = this.networkFailure(err, spec);
      }
      if (!failure.transient) throw this.refused(spec, failure);
      if (spec.retry === 'create' && failure.maybeApplied) {
        // Also after the last attempt: it may have worked although its answer was lost.
        if (!reconcile) throw this.exhausted(spec, attempt, failure, 'not retried, it may have been carried out');
        const existing = await this.reconcileWithGrace(reconcile, failure, spec.signal);
        if (existing !== undefined) return { reconciled: existing };
      }
      // Inside a clone step every layer draws on one budget of transient failures.
      const budget = currentRetryBudget();
      budget?.spend();
      if (budget && !budget.allowsRetry()) throw budget.paid(this.exhausted(spec, attempt, failure, 'the retry budget of the clone step is spent'));
      if (attempt >= maxAttempts) throw budget ? budget.paid(this.exhausted(spec, attempt, failure)) : this.exhausted(spec, attempt, failure);
      const jittered = backoffDelay(attempt, { baseMs: this.policy.backoffBaseMs, capMs: this.policy.backoffCapMs });
      const delay = failure.retryAfterMs !== undefined ? Math.min(Math.max(jittered, failure.retryAfterMs), this.policy.backoffCapMs) : jittered;
      await sleep(delay, spec.signal);
    }
  }

  /**
   * What an ambiguous create may have made. After a 5xx the service answered, so one look is
   * enough; after no answer at all it may still be working on it, so look again for a while.
   */
  private async reconcileWithGrace<T>(reconcile: () => Promise<T | undefined>, failure: Failure, signal?: AbortSignal): Promise<T | undefined> {
    const deadline = Date.now() + (failure.unanswered ? this.policy.createGraceMs : 0);
    for (;;) {
      const existing = await reconcile();
      if (existing !== undefined || Date.now() + GRACE_POLL_MS > deadline) return existing;
      await sleep(GRACE_POLL_MS, signal);
    }
  }

  private async attempt(
    spec: CallSpec,
    token: string | undefined,
    handOverBody: boolean,
  ): Promise<{ status: number; result: HttpResult | StreamResult } | { status: number; failure: Failure }> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'intercloud-broker', ...spec.headers };
    if (token) headers['x-auth-token'] = token;
    let body: string | Readable | undefined = spec.body;
    if (spec.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(spec.json);
    }
    // Transfers get idle timeouts (undici's headers/body timeouts only fire while the peer is silent);
    // ordinary calls also get a deadline for the whole attempt.
    const idle = spec.streaming ? this.policy.streamIdleTimeoutMs : this.policy.timeoutMs;
    const deadline = spec.streaming ? undefined : AbortSignal.timeout(this.policy.timeoutMs);
    const signals = [spec.signal, deadline].filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    let res: Dispatcher.ResponseData;
    try {
      res = await request(spec.url, { method: spec.method, headers, body, signal, headersTimeout: idle, bodyTimeout: idle, dispatcher: this.dispatcher });
    } catch (err) {
      if (deadline?.aborted && !spec.signal?.aborted) throw Object.assign(new Error(`timed out after ${this.policy.timeoutMs} ms`), { code: 'ETIMEDOUT' });
      throw err;
    }
    const status = res.statusCode;
    const accepted = (status >= 200 && status < 300) || (spec.accept?.includes(status) ?? false);
    const header = (name: string): string | undefined => headerOf(res.headers, name);
    if (accepted && handOverBody && status >= 200 && status < 300 && status !== 204) {
      return { status, result: { status, headers: res.headers, body: res.body, header } };
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      res.body.destroy();
      if (deadline?.aborted && !spec.signal?.aborted) throw Object.assign(new Error(`timed out after ${this.policy.timeoutMs} ms`), { code: 'ETIMEDOUT' });
      throw err;
    }
    if (accepted) {
      const where = this.where(spec);
      const details = this.details(spec);
      const result: HttpResult = {
        status,
        headers: res.headers,
        text,
        header,
        json<T>(): T {
          try {
            return JSON.parse(text) as T;
          } catch {
            throw new UpstreamUnavailableError(`${where}: HTTP ${status} with a body that is not JSON`, { ...details, status, retryable: false });
          }
        },
      };
      return { status, result };
    }
    return { status, failure: this.statusFailure(spec, status, res.headers, text) };
  }

  private statusFailure(spec: CallSpec, status: number, headers: IncomingHttpHeaders, text: string): Failure {
    const message = upstreamMessage(text);
    const problem = `HTTP ${status}${message ? `: ${message}` : ''}`;
    if (status === 429) return { transient: true, maybeApplied: false, problem, status, retryAfterMs: retryAfterMs(headers) };
    if (status === 409 && spec.conflictIsBusy) return { transient: true, maybeApplied: false, problem, status };
    if (status === 408) return { transient: true, maybeApplied: false, problem, status };
    // A stream body cannot be re-sent with a new token (see run): the next transfer will have one.
    if (status === 401 && spec.body) return { transient: true, maybeApplied: false, problem, status };
    if (status >= 500 && status !== 501) return { transient: true, maybeApplied: true, problem, status, retryAfterMs: retryAfterMs(headers) };
    return { transient: false, maybeApplied: false, problem, status };
  }

  private networkFailure(err: unknown, spec: CallSpec): Failure {
    const code = errorCode(err);
    if (code === ENDPOINT_REFUSED) {
      // The policy, not the network: nothing was sent, and asking again changes nothing.
      return { transient: false, maybeApplied: false, problem: `${ENDPOINT_OF[spec.service]} ${errorText(err)}`, cause: err };
    }
    if (code === undefined || !NETWORK.has(code)) {
      // Not a network failure: a bug, a TLS or protocol failure, or a broken stream handed to us; nothing to retry.
      if (spec.body?.errored) return { transient: false, maybeApplied: true, problem: 'the data stream it was sending failed', detail: errorText(spec.body.errored), cause: err };
      return { transient: false, maybeApplied: true, problem: NO_ANSWER, detail: errorText(err), connectionLevel: true, cause: err };
    }
    const idle = spec.streaming ? this.policy.streamIdleTimeoutMs : this.policy.timeoutMs;
    const text =
      code === 'UND_ERR_HEADERS_TIMEOUT'
        ? `timed out: no response within ${idle} ms`
        : code === 'UND_ERR_BODY_TIMEOUT'
          ? `timed out: the response body stalled for ${idle} ms`
          : errorText(err);
    const sent = !NOT_SENT.has(code);
    return { transient: true, maybeApplied: sent, unanswered: sent, problem: NO_ANSWER, detail: text.includes(code) ? text : `${text} (${code})`, connectionLevel: true, cause: err };
  }

  private exhausted(spec: CallSpec, attempts: number, failure: Failure, note?: string): UpstreamUnavailableError {
    const tries = `${attempts} attempt${attempts === 1 ? '' : 's'}`;
    // How many attempts a connection failure took depends on its cause (a TLS or protocol failure is not retried, a
    // refusal is): for those the count and the note stay in the details, and the message is the same for every cause.
    const message = failure.connectionLevel
      ? `${this.where(spec)} failed: ${failure.problem}`
      : `${this.where(spec)} failed after ${tries}${note ? ` (${note})` : ''}: ${failure.problem}`;
    const detail = [failure.detail, failure.connectionLevel ? `after ${tries}${note ? `, ${note}` : ''}` : undefined].filter(Boolean).join('; ');
    const error = new UpstreamUnavailableError(message, {
      ...this.details(spec),
      attempts,
      status: failure.status,
      retryable: true,
      ...(detail ? { detail } : {}),
    });
    if (failure.cause !== undefined) Object.assign(error, { cause: failure.cause });
    return error;
  }

  private refused(spec: CallSpec, failure: Failure): Error {
    const message = `${this.where(spec)} failed: ${failure.problem}`;
    const details = this.details(spec, { status: failure.status, retryable: false, ...(failure.detail ? { detail: failure.detail } : {}) });
    const error = failure.status === 409 ? new ConflictError(message, details) : new UpstreamUnavailableError(message, details);
    if (failure.cause !== undefined) Object.assign(error, { cause: failure.cause });
    return error;
  }
}

/**
 * The marker of a collection's "next" link, if there is one. Callers rebuild the next URL from
 * their own query plus this marker: some servers' next links drop the filters.
 */
export function nextMarker(links: Array<{ rel?: string; href?: string }> | string | undefined): string | undefined {
  const href = typeof links === 'string' ? links : links?.find((l) => l.rel === 'next')?.href;
  if (!href) return undefined;
  return new URL(href, 'http://relative.invalid').searchParams.get('marker') ?? undefined;
}

/** `base?query` with undefined values left out. */
export function withQuery(base: string, query: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.append(key, value);
  const text = params.toString();
  return text ? `${base}?${text}` : base;
}
