/**
 * graphql-ws on the HTTP server's /graphql, under exactly the HTTP path's rules: the same
 * operation gate (parse options, validation rules, limits, introspection switch), the same
 * formatError on every error it sends, the same per-token rate limit and admission, and the token
 * authenticated again for every operation, so a revoked token gets nothing more. One periodic
 * query for all connected tokens ends the live subscriptions of revoked ones (close 4403).
 *
 * It binds graphql-ws's makeServer to `ws` itself rather than through graphql-ws/use/ws, because
 * that binding awaits every frame's flush: a client that stops reading parks its subscriptions
 * and the backlog piles up upstream, where nothing bounds it. Here a send never waits, and a
 * socket holding more than WS_MAX_BUFFERED_BYTES unsent is closed (4413, slow consumer). It also
 * caps connections per client address and operations per connection.
 *
 * With `batchedFrames` (WS_BATCHED_FRAMES=on, the default) it writes error-free subscription
 * results itself: one serialisation per shared result, and a connection's frames of one tick in
 * one socket write (ws-frames.ts).
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { ExecutionArgs, ExecutionResult, GraphQLError, GraphQLFormattedError, GraphQLSchema, Kind } from 'graphql';
import { CloseCode, Context, handleProtocols, makeServer } from 'graphql-ws';
import { Logger } from 'pino';
import WebSocket, { WebSocketServer } from 'ws';
import { DomainError, RateLimitedError } from '../domain/errors';
import { Principal } from '../domain/principal';
import type { Services } from '../services';
import { Admission, bearerHash } from './admission';
import { clientAddress, TrustedProxies } from './client-address';
import { createApiContext } from './context';
import { formatError, toGraphQLError } from './error-mapping';
import { limitError } from './limits';
import { Metrics } from './metrics';
import { OperationGate } from './operation-gate';
import { RateLimiter } from './rate-limiter';
import { sharedSubscribe } from './shared-subscription';
import { corkForTick, payloadSerialiser, sendingResults } from './ws-frames';
import { WsCloseCode } from './ws-close-codes';

const KEEPALIVE_MS = 12_000;
const MAX_MESSAGE_BYTES = 64 * 1024;

export interface WsTransportOptions {
  httpServer: http.Server;
  schema: GraphQLSchema;
  gate: OperationGate;
  services: Services;
  logger: Logger;
  metrics: Metrics;
  perToken: RateLimiter;
  admission: Admission;
  trustedProxies: TrustedProxies;
  maxConnectionsPerAddress: number;
  maxSubscriptionsPerConnection: number;
  maxBufferedBytes: number;
  tokenCheckIntervalMs: number;
  /** Identical subscriptions share one execution per event (shared-subscription.ts); off only for the bench baseline. */
  sharedExecution: boolean;
  /** Subscription frames serialised once per shared result and written once per connection per tick (ws-frames.ts); off only for the bench baseline. */
  batchedFrames?: boolean;
}

interface Connection {
  socket: WebSocket;
  /** The TCP socket under `socket`, corked for the rest of a tick once it has a frame to send (batchedFrames). */
  tcp: Socket;
  corked: { now: boolean };
  address: string;
  authorization?: string;
  tokenHash: string | null;
  principal?: Principal;
  ctx?: Context<Record<string, unknown>, Extra>;
  closing: boolean;
}

interface Extra {
  connection: Connection;
}

export interface WsTransport {
  dispose(): Promise<void>;
}

export function createWsTransport(o: WsTransportOptions): WsTransport {
  const connections = new Set<Connection>();
  const perAddress = new Map<string, number>();
  const format = formatError(o.logger);
  const contextDeps = { services: o.services, logger: o.logger, perToken: o.perToken, onRateLimited: () => o.metrics.rateLimited.inc({ limit: 'token' }) };

  /** Closes with a code the client sees once it has read what is buffered; its operations end now. */
  function close(conn: Connection, code: number, reason: string, counted: 'slow_consumer' | 'token_revoked' | 'rate_limited'): void {
    if (conn.closing) return;
    conn.closing = true;
    o.metrics.wsClosed.inc({ reason: counted });
    conn.socket.close(code, reason);
    for (const sub of Object.values(conn.ctx?.subscriptions ?? {})) {
      const gen = sub as AsyncGenerator<unknown> | null;
      if (gen && typeof gen.return === 'function') {
        gen.return(undefined).catch((err: unknown) => o.logger.warn({ err }, 'ending a subscription of a closed WebSocket failed'));
      }
    }
  }

  const batchedFrames = o.batchedFrames ?? true;
  function send(conn: Connection, data: string): void {
    if (conn.closing || conn.socket.readyState !== WebSocket.OPEN) return;
    if (batchedFrames) corkForTick(conn.tcp, conn.corked);
    conn.socket.send(data);
    if (conn.socket.bufferedAmount > o.maxBufferedBytes) {
      o.logger.warn({ address: conn.address, tokenId: conn.principal?.tokenId, bufferedBytes: conn.socket.bufferedAmount }, 'closing a WebSocket whose client does not keep up');
      close(conn, WsCloseCode.SlowConsumer, `slow consumer: over ${o.maxBufferedBytes} bytes unsent; reconnect and resume with afterSeq`, 'slow_consumer');
    }
  }

  /** An error as the HTTP path would send it (Apollo codes variable coercion errors BAD_USER_INPUT). */
  function formatOne(err: GraphQLError): GraphQLFormattedError {
    const formatted = err.toJSON();
    const isVariableError = err.nodes?.length === 1 && err.nodes[0].kind === Kind.VARIABLE_DEFINITION;
    if (isVariableError && formatted.extensions?.code === undefined) {
      return format({ ...formatted, extensions: { ...formatted.extensions, code: 'BAD_USER_INPUT' } }, err);
    }
    return format(formatted, err);
  }

  // Bound once: these run per event per subscriber.
  const executions = { true: o.metrics.subscriptionExecutions.labels('true'), false: o.metrics.subscriptionExecutions.labels('false') };
  const results = { true: o.metrics.subscriptionResults.labels('true'), false: o.metrics.subscriptionResults.labels('false') };
  const sharedSubscribeFn = sharedSubscribe(o.sharedExecution, {
    executed: (shared) => executions[`${shared}`].inc(),
    delivered: (shared) => results[`${shared}`].inc(),
  });
  const serialise = payloadSerialiser({ serialised: () => o.metrics.subscriptionSerialisations.inc() });
  /** Which connection and operation id an operation's context belongs to (set in onSubscribe). */
  const operations = new WeakMap<object, { conn: Connection; id: string }>();
  const subscribe = async (args: ExecutionArgs) => {
    const result = await sharedSubscribeFn(args);
    const op = batchedFrames && typeof args.contextValue === 'object' && args.contextValue !== null ? operations.get(args.contextValue) : undefined;
    if (!op || !isAsyncGenerator(result)) return result;
    return sendingResults(result, op.id, (frame) => send(op.conn, frame), serialise);
  };

  const server = makeServer<Record<string, unknown>, Extra>({
    schema: o.schema,
    subscribe,
    onConnect: async (ctx) => {
      const conn = ctx.extra.connection;
      conn.ctx = ctx;
      const raw = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
      const authorization = typeof raw === 'string' ? raw : undefined;
      const tokenHash = bearerHash(authorization);
      const wait = o.admission.admit(conn.address, tokenHash);
      if (wait > 0) {
        o.metrics.rateLimited.inc({ limit: 'address' });
        close(conn, WsCloseCode.TryAgainLater, `rate limited: retry after ${wait}s`, 'rate_limited');
        return false;
      }
      if (!authorization) {
        conn.socket.close(CloseCode.Unauthorized, 'Unauthorized: send { authorization: "Bearer <token>" } in connection_init');
        return false;
      }
      try {
        conn.principal = await o.services.auth.authenticate(authorization);
      } catch (err) {
        if (!(err instanceof DomainError)) o.logger.error({ err }, 'authenticating a WebSocket failed');
        o.admission.refused(tokenHash);
        return false; // graphql-ws closes with 4403 Forbidden
      }
      o.admission.authenticated(tokenHash);
      conn.authorization = authorization;
      conn.tokenHash = tokenHash;
      o.metrics.wsConnections.inc();
      return true;
    },
    onSubscribe: async (ctx, id, payload) => {
      const conn = ctx.extra.connection;
      // Closed (revoked, too slow): whatever the client sent meanwhile runs no more.
      if (conn.closing) return [new GraphQLError('the connection is closing')];
      // graphql-ws has already reserved this operation's id.
      if (Object.keys(ctx.subscriptions).length > o.maxSubscriptionsPerConnection) {
        return [limitError('maxSubscriptionsPerConnection', `a connection may run at most ${o.maxSubscriptionsPerConnection} operations at once`)];
      }
      const prepared = o.gate.prepare(payload.query, payload.operationName, payload.variables);
      if ('errors' in prepared) return prepared.errors;
      let principal: Principal;
      try {
        principal = await o.services.auth.authenticate(conn.authorization);
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
        o.admission.refused(conn.tokenHash);
        close(conn, WsCloseCode.TokenRevoked, 'Forbidden: the token is no longer valid', 'token_revoked');
        return [toGraphQLError(err)];
      }
      const wait = o.perToken.take(principal.tokenId);
      if (wait > 0) {
        o.metrics.rateLimited.inc({ limit: 'token' });
        return [toGraphQLError(new RateLimitedError(wait))];
      }
      const contextValue = createApiContext(contextDeps, principal);
      operations.set(contextValue, { conn, id });
      return {
        schema: o.schema,
        document: prepared.document,
        operationName: payload.operationName,
        variableValues: payload.variables,
        contextValue,
      };
    },
    onNext: (_ctx, _id, _payload, _args, result) => (result.errors ? { ...result, errors: result.errors.map(formatOne) } : undefined),
    onError: (_ctx, _id, _payload, errors) => errors.map(formatOne),
  });

  const wss = new WebSocketServer({ server: o.httpServer, path: '/graphql', maxPayload: MAX_MESSAGE_BYTES, handleProtocols });
  // The server re-emits the HTTP server's errors (a port in use): unhandled, they would end the process.
  wss.on('error', (err) => o.logger.error({ err }, 'WebSocket server error'));
  wss.on('connection', (socket, request) => {
    const address = clientAddress(request.socket.remoteAddress, request.headers['x-forwarded-for'], o.trustedProxies);
    const open = perAddress.get(address) ?? 0;
    if (open >= o.maxConnectionsPerAddress) {
      o.metrics.wsClosed.inc({ reason: 'too_many_connections' });
      socket.close(WsCloseCode.TryAgainLater, `too many connections from your address (limit ${o.maxConnectionsPerAddress})`);
      return;
    }
    perAddress.set(address, open + 1);
    const conn: Connection = { socket, tcp: request.socket, corked: { now: false }, address, tokenHash: null, closing: false };
    connections.add(conn);
    socket.on('error', (err) => o.logger.debug({ err, address }, 'WebSocket error'));

    // Keepalive: a client that has not answered the last ping by the next one is ended, but only
    // when this broker's own event loop ran on time since that ping. After a stall (a starved CPU,
    // a burst of deliveries) a pong that arrived in time may still sit unread, and the broker
    // would cut healthy clients (bench:events at load 30-50 saw 1006 closes); it pings again
    // instead. The verdict also waits for the I/O phase (setImmediate), which reads such pongs
    // first when the timer fired straight after a stall.
    let answered = true;
    let pingedAt = 0;
    socket.on('pong', () => {
      answered = true;
    });
    const pinger = setInterval(
      () =>
        setImmediate(() => {
          if (socket.readyState !== WebSocket.OPEN) return;
          if (!answered && Date.now() - pingedAt < 2 * KEEPALIVE_MS) return socket.terminate();
          answered = false;
          pingedAt = Date.now();
          socket.ping();
        }),
      KEEPALIVE_MS,
    );

    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) => send(conn, data),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (cb) =>
          socket.on('message', (data) => {
            cb(String(data)).catch((err: unknown) => {
              o.logger.error({ err }, 'handling a graphql-ws message failed');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            });
          }),
      },
      { connection: conn },
    );
    socket.once('close', (code, reason) => {
      clearInterval(pinger);
      connections.delete(conn);
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
      if (conn.principal) o.metrics.wsConnections.dec();
      closed(code, String(reason)).catch((err: unknown) => o.logger.warn({ err }, 'graphql-ws cleanup failed'));
    });
  });

  // One query for every token held by this replica's connections, not one per connection.
  let checking = false;
  let checkAgain = false;
  const checkTokens = async () => {
    const held = new Set<string>();
    for (const conn of connections) if (conn.principal && !conn.closing) held.add(conn.principal.tokenId);
    if (held.size === 0) return;
    const active = await o.services.auth.activeTokenIds([...held]);
    for (const conn of connections) {
      if (conn.principal && !active.has(conn.principal.tokenId)) {
        o.admission.refused(conn.tokenHash);
        close(conn, WsCloseCode.TokenRevoked, 'Forbidden: the token is no longer valid', 'token_revoked');
      }
    }
  };
  // One check at a time; a request for one during a check runs another after it, since the
  // running one may have read before the revocation that asked for it committed.
  const runCheck = () => {
    if (checking) {
      checkAgain = true;
      return;
    }
    checking = true;
    checkTokens()
      .catch((err: unknown) => o.logger.warn({ err }, 'checking the tokens of WebSocket connections failed'))
      .finally(() => {
        checking = false;
        if (checkAgain) {
          checkAgain = false;
          runCheck();
        }
      });
  };
  const tokenTimer = setInterval(runCheck, o.tokenCheckIntervalMs);
  tokenTimer.unref();
  // A revocation announced by any replica is checked at once, not at the next tick.
  const stopHearing = o.services.auth.onTokensRevoked(runCheck);

  return {
    async dispose() {
      clearInterval(tokenTimer);
      stopHearing();
      for (const conn of connections) conn.socket.close(1001, 'Going away');
      await new Promise<void>((resolve, reject) => wss.close((err) => (err ? reject(err) : resolve())));
    },
  };
}

function isAsyncGenerator(value: unknown): value is AsyncGenerator<ExecutionResult> {
  return typeof (value as AsyncGenerator | null)?.[Symbol.asyncIterator] === 'function' && typeof (value as AsyncGenerator).next === 'function';
}
