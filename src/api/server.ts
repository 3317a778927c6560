/**
 * The HTTP server: GraphQL over HTTP and graphql-ws on the same port and path, plus
 * /healthz, /readyz and /metrics. Closing it drains HTTP requests and WebSockets.
 */
import http from 'node:http';
import { ApolloServer, ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { GraphQLError, GraphQLSchema, parse } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { DomainError, RateLimitedError } from '../domain/errors';
import { Principal } from '../domain/principal';
import type { Services } from '../services';
import { ApiContext } from './context';
import { dashboardRouter } from './dashboard';
import { formatError, toGraphQLError } from './error-mapping';
import { checkLimits, Limits } from './limits';
import { Metrics } from './metrics';
import { RateLimiter } from './rate-limiter';

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
  const httpServer = http.createServer(app);
  const limiter = new RateLimiter(o.rateLimitPerMinute);
  let shuttingDown = false;

  /** Bearer token -> Principal, with the per-token rate limit; throws GraphQL errors with HTTP status. */
  async function authenticate(authorization: string | undefined): Promise<Principal | null> {
    if (!authorization) return null;
    try {
      const principal = await o.services.auth.authenticate(authorization);
      const wait = limiter.take(principal.tokenId);
      if (wait > 0) {
        o.metrics.rateLimited.inc();
        throw new RateLimitedError(wait);
      }
      return principal;
    } catch (err) {
      if (err instanceof DomainError) {
        const gqlErr = toGraphQLError(err);
        if (err instanceof RateLimitedError) {
          (gqlErr.extensions.http as { headers?: Map<string, string> }).headers = new Map([['retry-after', String(err.retryAfterSeconds)]]);
        }
        throw gqlErr;
      }
      throw err;
    }
  }

  // graphql-ws on the same path: missing token -> 4401, refused token -> 4403.
  const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql', maxPayload: 64 * 1024 });
  const wsCleanup = useServer<Record<string, unknown>, { principal?: Principal }>(
    {
      schema: o.schema,
      context: (ctx): ApiContext => ({ principal: ctx.extra.principal ?? null, services: o.services, logger: o.logger }),
      onConnect: async (ctx) => {
        const authorization = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
        if (typeof authorization !== 'string') {
          ctx.extra.socket.close(CloseCode.Unauthorized, 'Unauthorized: send { authorization: "Bearer <token>" } in connection_init');
          return false;
        }
        try {
          const principal = await o.services.auth.authenticate(authorization);
          (ctx.extra as { principal?: Principal }).principal = principal;
          o.metrics.wsConnections.inc();
          return true;
        } catch {
          return false; // graphql-ws closes with 4403 Forbidden
        }
      },
      onDisconnect: (ctx) => {
        if ((ctx.extra as { principal?: Principal }).principal) o.metrics.wsConnections.dec();
      },
      onSubscribe: async (ctx, _id, payload) => {
        const principal = (ctx.extra as { principal?: Principal }).principal;
        const wait = principal ? limiter.take(principal.tokenId) : 0;
        if (wait > 0) {
          o.metrics.rateLimited.inc();
          return [toGraphQLError(new RateLimitedError(wait))];
        }
        let document;
        try {
          document = parse(payload.query);
        } catch (err) {
          return [err instanceof GraphQLError ? err : new GraphQLError('invalid query')];
        }
        const errors = checkLimits(o.schema, document, payload.operationName, payload.variables ?? undefined, o.limits);
        return errors.length > 0 ? errors : undefined;
      },
      onError: (_ctx, _id, _payload, errors) => {
        o.logger.warn({ errors: errors.map((e) => e.message) }, 'subscription error');
      },
    },
    wsServer,
  );

  const limitsPlugin: ApolloServerPlugin<ApiContext> = {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      let type = 'unknown';
      return {
        async didResolveOperation({ request, document, operation }) {
          type = operation?.operation ?? 'unknown';
          const errors = checkLimits(o.schema, document, request.operationName, request.variables, o.limits);
          if (errors.length > 0) {
            for (const e of errors) (e.extensions as Record<string, unknown>).http = { status: 400 };
            throw errors[0];
          }
        },
        async willSendResponse({ response }) {
          const failed = response.body.kind === 'single' && (response.body.singleResult.errors?.length ?? 0) > 0;
          o.metrics.graphqlOperations.inc({ type, outcome: failed ? 'error' : 'ok' });
          o.metrics.graphqlDuration.observe({ type }, Number(process.hrtime.bigint() - started) / 1e9);
        },
      };
    },
  };

  const apollo = new ApolloServer<ApiContext>({
    schema: o.schema,
    introspection: o.introspection,
    csrfPrevention: true,
    // The broker stops Apollo itself (after draining); Apollo's own signal handlers would stop it
    // twice, and a second stop() never returns.
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: false,
    formatError: formatError(o.logger),
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      { async serverWillStart() { return { async drainServer() { await wsCleanup.dispose(); } }; } },
      limitsPlugin,
    ],
  });
  await apollo.start();

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
    express.json({ limit: o.bodyLimit }),
    expressMiddleware(apollo, {
      context: async ({ req }) => ({
        principal: await authenticate(req.headers.authorization),
        services: o.services,
        logger: o.logger,
      }),
    }),
  );
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
