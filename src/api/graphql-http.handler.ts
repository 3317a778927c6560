/**
 * The hot path of the HTTP API: `POST /graphql` with a JSON body, served on node:http straight
 * into Apollo's `executeHTTPGraphQLRequest`, without Express's router, body-parser and response
 * helpers (a profile of `npm run bench:api` put them at about a third of the broker's time per
 * request). Only the plain case is taken here: exactly `/graphql`, `Content-Type:
 * application/json` (no charset or utf-8), no Content-Encoding. Anything else (GET, OPTIONS,
 * other content types, compressed or non-UTF-8 bodies, sub-paths) goes to Express as before, so
 * Apollo's CSRF prevention and body-parser's edge cases keep their answers.
 *
 * What Express did on this path is done here in the same order, with the same answers: the
 * admission check before reading the body (429 with Retry-After), the body limit (413
 * PAYLOAD_TOO_LARGE, checked against Content-Length before reading and while reading), body-parser's
 * strict JSON (400 BAD_REQUEST; an empty body is `{}`), the route metric, and Apollo's status,
 * headers and body.
 */
import http from 'node:http';
import { ApolloServer, HeaderMap, HTTPGraphQLRequest } from '@apollo/server';
import { Admission, bearerHash } from './admission';
import { clientAddress, TrustedProxies } from './client-address';
import { Metrics } from './metrics';
import { HttpContext, rateLimitedError } from './request-gate.plugin';

export interface GraphQLHttpHandlerDeps {
  apollo: ApolloServer<HttpContext>;
  admission: Admission;
  trustedProxies: TrustedProxies;
  metrics: Metrics;
  /** REQUEST_BODY_LIMIT as configured (`100kb`, `1mb`): quoted in the 413 message. */
  bodyLimit: string;
  /** The context before authentication (request-gate.plugin.ts authenticates). */
  context: (authorization: string | undefined, tokenHash: string | null) => HttpContext;
}

/** `512b`, `100kb`, `1mb` (the only forms config.ts accepts) in bytes, as body-parser counts them. */
export function parseBodyLimit(limit: string): number {
  const m = /^(\d+)(b|kb|mb)$/i.exec(limit.trim());
  if (!m) throw new Error(`not a body size: ${limit}`);
  const unit = m[2].toLowerCase();
  return Number(m[1]) * (unit === 'mb' ? 1024 * 1024 : unit === 'kb' ? 1024 : 1);
}

const JSON_CONTENT_TYPE = /^application\/json\s*(?:;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

/** Whether this handler serves the request; false leaves it to Express untouched. */
export function isPlainGraphQLPost(req: http.IncomingMessage): boolean {
  if (req.method !== 'POST' || req.url !== '/graphql') return false;
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return false;
  const type = req.headers['content-type'];
  return type !== undefined && JSON_CONTENT_TYPE.test(type);
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function createGraphQLHttpHandler(d: GraphQLHttpHandlerDeps): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const limit = parseBodyLimit(d.bodyLimit);
  const tooLarge = { errors: [{ message: `request body exceeds ${d.bodyLimit}`, extensions: { code: 'PAYLOAD_TOO_LARGE' } }] };
  const malformed = { errors: [{ message: 'malformed request body', extensions: { code: 'BAD_REQUEST' } }] };

  /** Refuses a body over the limit; the connection is closed rather than the rest of the body read. */
  function refuseTooLarge(req: http.IncomingMessage, res: http.ServerResponse): void {
    req.pause();
    sendJson(res, 413, tooLarge, { connection: 'close' });
  }

  async function execute(req: http.IncomingMessage, res: http.ServerResponse, body: unknown, tokenHash: string | null): Promise<void> {
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const httpGraphQLRequest: HTTPGraphQLRequest = { method: 'POST', headers, search: '', body };
    const response = await d.apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest,
      context: () => Promise.resolve(d.context(req.headers.authorization, tokenHash)),
    });
    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      res.setHeader('content-length', Buffer.byteLength(response.body.string));
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  }

  return (req, res) => {
    res.once('finish', () => d.metrics.httpRequests.inc({ route: '/graphql', status: String(res.statusCode) }));
    // Before anything is read or parsed: callers without a recently valid token spend their
    // address's anonymous budget (see admission.ts).
    const tokenHash = bearerHash(req.headers.authorization);
    const wait = d.admission.admit(() => clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], d.trustedProxies), tokenHash);
    if (wait > 0) {
      d.metrics.rateLimited.inc({ limit: 'address' });
      const err = rateLimitedError(wait);
      sendJson(res, 429, { errors: [{ message: err.message, extensions: { code: err.extensions.code, retryAfterSeconds: wait } }] }, { 'retry-after': String(wait) });
      return;
    }
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) return refuseTooLarge(req, res);

    const chunks: Buffer[] = [];
    let received = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      received += chunk.length;
      if (received > limit) {
        refused = true;
        refuseTooLarge(req, res);
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => {
      // The client went away mid-body: nobody to answer.
      refused = true;
      res.destroy();
    });
    req.on('end', () => {
      if (refused) return;
      const text = (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString('utf8');
      let body: unknown;
      // body-parser's strict JSON: an empty body is {}, anything else must be an object or array.
      const first = /^[\x20\x09\x0a\x0d]*([^\x20\x09\x0a\x0d])/.exec(text)?.[1];
      if (first === undefined) body = {};
      else if (first !== '{' && first !== '[') return sendJson(res, 400, malformed);
      else {
        try {
          body = JSON.parse(text);
        } catch {
          return sendJson(res, 400, malformed);
        }
      }
      execute(req, res, body, tokenHash).catch(() => {
        if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
        else res.destroy();
      });
    });
  };
}
