/** GraphQL over HTTP: one POST per operation with the bearer token; any failure is an IntercloudError. */
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
import { GraphQLErrorShape, IntercloudError } from './errors';

/** A generated operation (a TypedDocumentString): its text, typed with its result and variables. */
export type Operation<TResult, TVariables> = DocumentTypeDecoration<TResult, TVariables> & { toString(): string };

export interface HttpTransportOptions {
  url: string;
  /** The bearer token, read on every request (so a sign-in takes effect at once). */
  token: () => string | null | undefined;
  fetch?: typeof fetch;
  /** Per-request deadline (default 30 s). */
  timeoutMs?: number;
}

interface GraphQLResponse {
  data?: unknown;
  errors?: GraphQLErrorShape[];
}

export async function executeHttp<TResult, TVariables>(
  o: HttpTransportOptions,
  operation: Operation<TResult, TVariables>,
  variables: TVariables | undefined,
): Promise<TResult> {
  const doFetch = o.fetch ?? globalThis.fetch;
  const token = o.token();
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await doFetch(o.url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query: operation.toString(), variables: variables ?? {} }),
      signal: AbortSignal.timeout(o.timeoutMs ?? 30_000),
    });
  } catch (err) {
    throw IntercloudError.network(o.url, err);
  }
  const text = await res.text().catch(() => '');
  let body: GraphQLResponse;
  try {
    body = JSON.parse(text) as GraphQLResponse;
  } catch {
    throw new IntercloudError(`the broker at ${o.url} answered HTTP ${res.status} with something other than JSON: ${text.slice(0, 200)}`, 'BAD_RESPONSE', null, null, res.status);
  }
  if (body.errors && body.errors.length > 0) {
    const err = IntercloudError.fromGraphQL(body.errors, res.status);
    const retryAfter = Number(res.headers.get('retry-after'));
    if (err.code === 'RATE_LIMITED' && err.retryAfterSeconds === null && Number.isFinite(retryAfter)) {
      return Promise.reject(new IntercloudError(err.message, err.code, null, null, res.status, err.errors, retryAfter));
    }
    throw err;
  }
  if (body.data === undefined || body.data === null) {
    throw new IntercloudError(`the broker at ${o.url} answered HTTP ${res.status} without data`, 'BAD_RESPONSE', null, null, res.status);
  }
  return body.data as TResult;
}
