/**
 * One HTTP exchange with an integration endpoint (Nagios's JSON CGI, Kamailio's JSON-RPC) through
 * the guarded transport: the URL judged first, a deadline on the whole attempt, a bounded body,
 * and a few quick retries when nothing answered or the server said 5xx (both calls we make are
 * safe to repeat: reads, and a reload).
 */
import { type Dispatcher, request } from 'undici';
import { judgeEndpointUrl } from '../../domain/endpoint-policy';
import { DomainError } from '../../domain/errors';
import { backoffDelay, sleep } from '../../domain/retry';
import type { GuardedTransport } from './guarded-transport';
import { connectionError, integrationError } from './integration-error';

export interface IntegrationRequest {
  /** How errors name the server: `Nagios https://nagios.example/cgi-bin/nagios4/statusjson.cgi`. */
  server: string;
  url: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** Attempts in all, the first included. */
  attempts: number;
  /** Larger answers are cut off and refused: no status or RPC answer we read is that big. */
  maxBytes: number;
}

export interface IntegrationResponse {
  status: number;
  text: string;
}

const BACKOFF = { baseMs: 200, capMs: 2_000 };

/** The URL as the policy allows it (https, or http where the operator allows it; no user info). */
export function checkedUrl(transport: GuardedTransport, server: string, raw: string): URL {
  const verdict = judgeEndpointUrl(transport.policy, raw, transport.subject);
  if (!verdict.ok) throw integrationError(server, 'ENDPOINT_REFUSED', `the URL ${verdict.why}`);
  return verdict.url;
}

async function readBounded(body: Dispatcher.ResponseData['body'], maxBytes: number): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      body.destroy();
      return null;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function attempt(transport: GuardedTransport, spec: IntegrationRequest, url: URL): Promise<IntegrationResponse> {
  const signal = AbortSignal.timeout(spec.timeoutMs);
  try {
    const res = await request(url, {
      method: spec.method,
      headers: { 'user-agent': 'intercloud-broker', ...spec.headers },
      body: spec.body,
      signal,
      headersTimeout: spec.timeoutMs,
      bodyTimeout: spec.timeoutMs,
      dispatcher: transport.dispatcher,
    });
    const text = await readBounded(res.body, spec.maxBytes);
    if (text === null) throw integrationError(spec.server, 'BAD_RESPONSE', `the answer is larger than ${spec.maxBytes} bytes`);
    return { status: res.statusCode, text };
  } catch (err) {
    if (err instanceof DomainError) throw err;
    // Timed out or refused or reset: the same words for all, the cause in the details.
    const cause = signal.aborted ? Object.assign(new Error(`no complete answer within ${spec.timeoutMs} ms`), { code: 'ETIMEDOUT', cause: err }) : err;
    throw connectionError(spec.server, cause);
  }
}

/** The answer of any status (the caller judges it); throws for failures below HTTP and after 5xx on every attempt. */
export async function integrationRequest(transport: GuardedTransport, spec: IntegrationRequest): Promise<IntegrationResponse> {
  const url = checkedUrl(transport, spec.server, spec.url);
  for (let n = 1; ; n++) {
    let retryable: boolean;
    try {
      const res = await attempt(transport, spec, url);
      if (res.status < 500 || n >= spec.attempts) return res;
      retryable = true;
    } catch (err) {
      retryable = (err as { details?: { retryable?: unknown } }).details?.retryable === true;
      if (!retryable || n >= spec.attempts) throw err;
    }
    await sleep(backoffDelay(n, BACKOFF));
  }
}

/** The body as JSON, or a BAD_RESPONSE naming what answered instead. */
export function parseJson(server: string, res: IntegrationResponse, what: string): unknown {
  try {
    return JSON.parse(res.text);
  } catch {
    throw integrationError(server, 'BAD_RESPONSE', `HTTP ${res.status} with a body that is not ${what}`);
  }
}
