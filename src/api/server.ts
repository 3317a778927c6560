/**
 * The HTTP server: GraphQL over HTTP and graphql-ws on the same port and path, plus
 * /healthz, /readyz and /metrics. Closing it drains HTTP requests and WebSockets.
 */
import http from 'node:http';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { GraphQLSchema } from 'graphql';
import { Logger } from 'pino';
import type { Services } from '../services';
import { Admission, bearerHash } from './admission';
import { clientAddress, parseTrustedProxies } from './client-address';
import { createApiContext } from './context';
import { dashboardRouter } from './dashboard';
import { formatError } from './error-mapping';
import { createGraphQLHttpHandler, isPlainGraphQLPost } from './graphql-http.handler';
import { createWsTransport } from './graphql-ws.transport';
import { Limits } from './limits';
import { Metrics } from './metrics';
import { createOperationGate } from './operation-gate';
import { RateLimiter } from './rate-limiter';
import { HttpContext, rateLimitedError, requestGatePlugin } from './request-gate.plugin';

const KNOWN_ROUTES = new Set(['/graphql', '/healthz', '/readyz', '/metrics']);

export interface ApiServerOptions {
  schema: GraphQLSchema;
  services: Services;
  logger: Logger;
  metrics: Metrics;
  limits: Limits;
  introspection: boolean;
  bodyLimit: string;
  rateLimitPerMinute: number;
  rateLimitAnonymousPerMinute: number;
  trustedProxies: string[];
  websocket: { maxConnectionsPerAddress: number; maxSubscriptionsPerConnection: number; maxBufferedBytes: number; tokenCheckIntervalMs: number; sharedExecution: boolean; batchedFrames?: boolean };
  /** Readiness of the pieces the API depends on (database, event listener). */
  isReady: () => Promise<boolean>;
}

export interface ApiServer {
  httpServer: http.Server;
  listen(port: number, host: string): Promise<number>;
  close(): Promise<void>;
}

export async function createApiServer(o: ApiServerOptions): Promise<ApiServer> {
  const app = express();
  app.disable('x-powered-by');
  // Express would hash every response body for an ETag; GraphQL POST answers are never revalidated.
  app.set('etag', false);
  // The plain `POST /graphql` (JSON body) skips Express (graphql-http.handler.ts); every other
  // request, and WebSocket upgrades (which never reach a request listener), are as before.
  let graphqlPost: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | null = null;
  const httpServer = http.createServer((req, res) => {
    if (graphqlPost !== null && isPlainGraphQLPost(req)) graphqlPost(req, res);
    else app(req, res);
  });
  const perToken = new RateLimiter(o.rateLimitPerMinute);
  const admission = new Admission(new RateLimiter(o.rateLimitAnonymousPerMinute));
  const trustedProxies = parseTrustedProxies(o.trustedProxies);
  // One set of parse options, validation rules and limits for HTTP and WebSocket.
  const gate = createOperationGate(o.schema, o.limits, o.introspection);
  const contextDeps = { services: o.services, logger: o.logger, perToken, onRateLimited: () => o.metrics.rateLimited.inc({ limit: 'token' }) };
  let shuttingDown = false;

  const ws = createWsTransport({
    httpServer,
    schema: o.schema,
    gate,
    services: o.services,
    logger: o.logger,
    metrics: o.metrics,
    perToken,
    admission,
    trustedProxies,
    ...o.websocket,
  });

  const apollo = new ApolloServer<HttpContext>({
    schema: o.schema,
    // The switch is in gate.validationRules, shared with the WebSocket path; Apollo's own would
    // be a second, differently worded copy of the same rule.
    introspection: true,
    parseOptions: gate.parseOptions,
    validationRules: gate.validationRules,
    csrfPrevention: true,
    // The broker stops Apollo itself (after draining); Apollo's own signal handlers would stop it
    // twice, and a second stop() never returns.
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: false,
    formatError: formatError(o.logger),
    plugins: [
      // Apollo's cache-control plugin would wrap every field resolver to collect @cacheControl
      // hints the schema never gives, only to answer `cache-control: no-store`; the request gate
      // sets that header itself.
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginDrainHttpServer({ httpServer }),
      { async serverWillStart() { return { async drainServer() { await ws.dispose(); } }; } },
      requestGatePlugin({ gate, services: o.services, metrics: o.metrics, perToken, admission }),
    ],
  });
  await apollo.start();
  // No authentication here: it runs after parsing, validation and limits (request-gate.plugin.ts).
  const httpContext = (authorization: string | undefined, tokenHash: string | null): HttpContext => ({
    ...createApiContext(contextDeps),
    authorization,
    tokenHash,
  });
  graphqlPost = createGraphQLHttpHandler({ apollo, admission, trustedProxies, metrics: o.metrics, bodyLimit: o.bodyLimit, context: httpContext });

  app.use((req, res, next) => {
    // originalUrl: under app.use('/graphql') Express strips the mount path from req.path.
    // Unknown paths share one label, so random URLs cannot grow the metric's series.
    const route = new URL(req.originalUrl, 'http://x').pathname;
    res.on('finish', () => o.metrics.httpRequests.inc({ route: KNOWN_ROUTES.has(route) ? route : 'other', status: String(res.statusCode) }));
    next();
  });
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ready = !shuttingDown && (await o.isReady().catch(() => false));
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready' });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(o.metrics.registry.contentType).send(await o.metrics.registry.metrics());
  });
  app.use(
    '/graphql',
    // Before anything is read or parsed: callers without a recently valid token spend their
    // address's anonymous budget (see admission.ts).
    (req, res, next) => {
      if (req.method === 'OPTIONS') return next();
      const address = clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trustedProxies);
      const wait = admission.admit(address, bearerHash(req.headers.authorization));
      if (wait === 0) return next();
      o.metrics.rateLimited.inc({ limit: 'address' });
      const err = rateLimitedError(wait);
      res.status(429).set('retry-after', String(wait)).json({ errors: [{ message: err.message, extensions: { code: err.extensions.code, retryAfterSeconds: wait } }] });
    },
    express.json({ limit: o.bodyLimit }),
    expressMiddleware(apollo, {
      context: async ({ req }): Promise<HttpContext> => httpContext(req.headers.authorization, bearerHash(req.headers.authorization)),
    }),
  );
  // The web dashboard's static bundle at / (never shadowing the routes above).
  app.use(dashboardRouter());
  // Body-parser errors (too large, malformed JSON) as GraphQL-shaped JSON, not an HTML page.
  app.use((err: { status?: number; type?: string; message?: string }, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (!err || !err.status) return next(err);
    const code = err.type === 'entity.too.large' ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST';
    res.status(err.status).json({ errors: [{ message: err.type === 'entity.too.large' ? `request body exceeds ${o.bodyLimit}` : 'malformed request body', extensions: { code } }] });
  });

  return {
    httpServer,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => resolve((httpServer.address() as { port: number }).port));
      }),
    close: async () => {
      shuttingDown = true;
      await apollo.stop();
    },
  };
}
