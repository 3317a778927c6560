/** GraphQL over real HTTP (undici) and WebSocket (graphql-ws client), as clients use the API. */
import { createClient, Client as WsClient } from 'graphql-ws';
import { request } from 'undici';
import WebSocket from 'ws';

export interface GqlError {
  message: string;
  path?: string[];
  extensions?: { code?: string; field?: string; rule?: string; [k: string]: unknown };
}

export interface GqlResponse<T = Record<string, any>> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  data: T | null | undefined;
  errors: GqlError[] | undefined;
}

export async function gql<T = Record<string, any>>(
  url: string,
  token: string | null,
  query: string,
  variables: Record<string, unknown> = {},
  extraHeaders: Record<string, string> = {},
): Promise<GqlResponse<T>> {
  const res = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...extraHeaders },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.body.text();
  let body: { data?: T | null; errors?: GqlError[] };
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`non-JSON response (HTTP ${res.statusCode}): ${text.slice(0, 300)}`);
  }
  return { status: res.statusCode, headers: res.headers, data: body.data, errors: body.errors };
}

/** The data of a response that must have succeeded; fails the test with the errors otherwise. */
export async function gqlOk<T = Record<string, any>>(url: string, token: string | null, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await gql<T>(url, token, query, variables);
  if (res.errors?.length || !res.data) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors)}`);
  return res.data;
}

/** The single error of a response that must have failed. */
export async function gqlError(url: string, token: string | null, query: string, variables: Record<string, unknown> = {}): Promise<GqlError> {
  const res = await gql(url, token, query, variables);
  if (!res.errors?.length) throw new Error(`expected an error, got ${JSON.stringify(res.data)}`);
  return res.errors[0];
}

export function wsUrl(httpUrl: string): string {
  return httpUrl.replace(/^http/, 'ws');
}

export function wsClient(httpUrl: string, token: string | null, onClose?: (code: number, reason: string) => void): WsClient {
  return createClient({
    url: wsUrl(httpUrl),
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    on: { closed: (e) => onClose?.((e as { code: number }).code, (e as { reason: string }).reason) },
    onNonLazyError: () => undefined,
  });
}

/** Subscribes and collects results until `count` arrived (or rejects after `timeoutMs`). */
export function collect<T = Record<string, any>>(
  client: WsClient,
  query: string,
  variables: Record<string, unknown>,
  count: number,
  timeoutMs = 15000,
): { done: Promise<T[]>; received: T[]; stop: () => void } {
  const received: T[] = [];
  let stop: () => void = () => undefined;
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<T[]>((resolve, reject) => {
    timer = setTimeout(() => {
      stop();
      reject(new Error(`timed out with ${received.length}/${count} events: ${JSON.stringify(received)}`));
    }, timeoutMs);
    stop = client.subscribe<T>(
      { query, variables },
      {
        next: (msg) => {
          if (msg.errors) {
            clearTimeout(timer);
            stop();
            reject(new Error(`subscription errors: ${JSON.stringify(msg.errors)}`));
            return;
          }
          received.push(msg.data as T);
          if (received.length >= count) {
            clearTimeout(timer);
            stop();
            resolve(received);
          }
        },
        error: (err) => {
          clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(JSON.stringify(err)));
        },
        complete: () => undefined,
      },
    );
  });
  // Stopping early (the caller has what it needs) also ends the timeout, which would otherwise
  // fire into a later test.
  done.catch(() => undefined);
  return {
    done,
    received,
    stop: () => {
      clearTimeout(timer);
      stop();
    },
  };
}

/** Subscribes and resolves with everything received once the server completes the subscription (rejects on error or after `timeoutMs`). */
export function untilComplete<T = Record<string, any>>(client: WsClient, query: string, variables: Record<string, unknown>, timeoutMs = 60_000): Promise<T[]> {
  return new Promise<T[]>((resolve, reject) => {
    const received: T[] = [];
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`the subscription did not complete within ${timeoutMs} ms; received ${JSON.stringify(received)}`));
    }, timeoutMs);
    const stop = client.subscribe<T>(
      { query, variables },
      {
        next: (msg) => {
          if (msg.errors) {
            clearTimeout(timer);
            reject(new Error(`subscription errors: ${JSON.stringify(msg.errors)}`));
            return;
          }
          received.push(msg.data as T);
        },
        error: (err) => {
          clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(JSON.stringify(err)));
        },
        complete: () => {
          clearTimeout(timer);
          resolve(received);
        },
      },
    );
  });
}
