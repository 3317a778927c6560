/**
 * JSON-RPC 2.0 over HTTP to the balancer: Kamailio's jsonrpcs (xhttp) or OpenSIPS's mi_http,
 * through the guarded transport. Reload and list are safe to repeat, so transient failures get
 * a quick retry.
 */
import { cleanText, integrationError } from '../net/integration-error';
import { integrationRequest, parseJson } from '../net/integration-http';
import type { GuardedTransport } from '../net/guarded-transport';
import type { LiveDestination } from '../../ports/sip-load-balancer.port';

export interface RpcOptions {
  timeoutMs: number;
  attempts: number;
}

/** JSON-RPC method names are identifiers with dots (dispatcher.reload, lb_reload): nothing else goes in the body's method. */
const METHOD = /^[A-Za-z_][A-Za-z0-9_.]{0,63}$/;

export class RpcError extends Error {
  constructor(
    readonly rpcCode: unknown,
    readonly rpcMessage: string,
  ) {
    super(rpcMessage);
  }
}

let nextId = 1;

/** The call's `result`; a JSON-RPC `error` becomes RpcError (the caller decides what it means), anything else unexpected BAD_RESPONSE. */
export async function callRpc(transport: GuardedTransport, server: string, url: string, method: string, options: RpcOptions): Promise<unknown> {
  if (!METHOD.test(method)) throw integrationError(server, 'BAD_RESPONSE', `"${method.slice(0, 64)}" is not a JSON-RPC method name`, { retryable: false });
  const id = nextId++;
  const res = await integrationRequest(transport, {
    server,
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', method, id }),
    timeoutMs: options.timeoutMs,
    attempts: options.attempts,
    maxBytes: 8 * 1024 * 1024,
  });
  // Kamailio answers RPC errors with HTTP 200 (or 500 on some versions) and a JSON body; only a body that is no JSON-RPC is a protocol failure.
  const body = (res.text ? parseJson(server, res, 'JSON-RPC') : null) as { result?: unknown; error?: { code?: unknown; message?: unknown } } | null;
  if (body && typeof body === 'object' && body.error) {
    throw new RpcError(body.error.code, cleanText(body.error.message, 300) || 'no message');
  }
  if (!body || typeof body !== 'object' || !('result' in body)) {
    throw integrationError(server, 'BAD_RESPONSE', `HTTP ${res.status} without a JSON-RPC result`, { retryable: res.status >= 500 });
  }
  return body.result;
}

/**
 * The destination URIs in a list answer: Kamailio's `dispatcher.list` (RECORDS[].SET.TARGETS[].DEST,
 * FLAGS with I or D = inactive or disabled) or OpenSIPS's `lb_list` (Destinations[], enabled).
 * Null for a shape that is neither.
 */
export function liveUris(result: unknown): LiveDestination[] | null {
  const r = result as { RECORDS?: unknown; Destinations?: unknown } | null;
  if (r && Array.isArray(r.RECORDS)) {
    const live: LiveDestination[] = [];
    for (const record of r.RECORDS as Array<{ SET?: { ID?: unknown; TARGETS?: Array<{ DEST?: { URI?: unknown; FLAGS?: unknown } }> } }>) {
      const setId = setIdOf(record?.SET?.ID);
      const targets = record?.SET?.TARGETS;
      for (const target of Array.isArray(targets) ? targets : []) {
        const uri = target?.DEST?.URI;
        const flags = typeof target?.DEST?.FLAGS === 'string' ? target.DEST.FLAGS : '';
        if (typeof uri === 'string' && !/[ID]/.test(flags)) live.push({ setId, uri });
      }
    }
    return live;
  }
  if (r && Array.isArray(r.Destinations)) {
    return (r.Destinations as Array<{ uri?: unknown; enabled?: unknown; group?: unknown }>)
      .filter((d) => typeof d?.uri === 'string' && d.enabled !== 'no')
      .map((d) => ({ setId: setIdOf(d.group), uri: d.uri as string }));
  }
  return null;
}

function setIdOf(value: unknown): number | null {
  const n = typeof value === 'string' && /^\d{1,10}$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) ? n : null;
}
