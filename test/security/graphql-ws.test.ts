/**
 * The WebSocket path under exactly the HTTP rules, through real graphql-ws connections to
 * in-process brokers on real PostgreSQL: internal errors masked as INTERNAL, the introspection
 * switch, the same limits and codes, connections per address and operations per connection
 * capped, revoked tokens cut off (close 4403), and a client that stops reading closed as a slow
 * consumer (4413) instead of growing the broker's memory.
 */
import { Client as WsClient, createClient } from 'graphql-ws';
import { Client } from 'pg';
import { request } from 'undici';
import WebSocket from 'ws';
import { startTestBroker, TestBroker } from '../support/broker';
import { createTestDatabase, TestDatabase } from '../support/database';
import { collect, gql, gqlOk, GqlError, wsUrl } from '../support/graphql';
import { addToken, createTenantWithToken } from '../support/tenants';
import { aliasedMe, fanOut, introspectionNesting } from '../support/hostile-documents';

const MAX_ALIASES = 5;
const MAX_TOKENS = 1000;
const MAX_OPERATIONS = 2;

const origin = (graphqlUrl: string) => new URL(graphqlUrl).origin;

async function counter(graphqlUrl: string, name: string, labels = ''): Promise<number> {
  const res = await request(`${origin(graphqlUrl)}/metrics`, { method: 'GET' });
  return (await res.body.text())
    .split('\n')
    .filter((line) => (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) && line.includes(labels))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Closed {
  code: number;
  reason: string;
}

/** A graphql-ws client that records how its connection ended and can tell when it is acknowledged. */
function connect(url: string, token: string | null) {
  let closed: Closed | undefined;
  let connected = false;
  const client: WsClient = createClient({
    url: wsUrl(url),
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    on: {
      connected: () => (connected = true),
      // The first close is how the connection ended: an operation sent after it makes the client
      // dial again, and that socket's refusal (4403 "Forbidden" from connection_init) is not it.
      closed: (e) => (closed ??= { code: (e as { code: number }).code, reason: (e as { reason: string }).reason }),
    },
    onNonLazyError: () => undefined,
  });
  return {
    client,
    closed: () => closed,
    connected: () => connected,
    /** Resolves with how the connection ended. */
    ended: async () => {
      await waitFor(() => closed !== undefined, 'the connection to close');
      return closed!;
    },
  };
}

/** One operation over the connection: its single result, or the errors of an `error` message. */
function once(client: WsClient, query: string, variables: Record<string, unknown> = {}): Promise<{ data?: unknown; errors?: GqlError[] }> {
  return new Promise((resolve, reject) => {
    let result: { data?: unknown; errors?: GqlError[] } | undefined;
    client.subscribe(
      { query, variables },
      {
        next: (value) => (result = value as typeof result),
        error: (err) => (Array.isArray(err) ? resolve({ errors: err as GqlError[] }) : reject(err)),
        complete: () => (result ? resolve(result) : reject(new Error('completed without a result'))),
      },
    );
  });
}

/** What a client compares: the errors without locations. */
const shapeOf = (errors: GqlError[] | undefined) => errors?.map(({ message, extensions, path }) => ({ message, extensions, ...(path ? { path } : {}) }));

describe('GraphQL over WebSocket', () => {
  let db: TestDatabase;
  let pg: Client;
  let broker: TestBroker;
  let adminToken: string;
  const disposers: (() => Promise<void>)[] = [];

  const open = (url: string, token: string | null) => {
    const c = connect(url, token);
    disposers.push(async () => c.client.dispose());
    return c;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    broker = await startTestBroker(db.url, {
      GRAPHQL_MAX_ALIASES: String(MAX_ALIASES),
      GRAPHQL_MAX_TOKENS: String(MAX_TOKENS),
      WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: String(MAX_OPERATIONS),
      WS_TOKEN_CHECK_SECONDS: '1',
      WS_MAX_BUFFERED_BYTES: String(64 * 1024),
      CLONE_CONCURRENCY: '0',
    });
    adminToken = broker.adminToken;
  });

  afterAll(async () => {
    await Promise.all(disposers.map((d) => d().catch(() => undefined)));
    await broker?.stop();
    await pg?.end();
    await db?.drop();
  });

  it('applies the HTTP limits with the same errors: depth, aliases, tokens, first, cost of a fragment fan-out', async () => {
    const { client } = open(broker.url, adminToken);
    const documents = [
      introspectionNesting(6),
      aliasedMe(MAX_ALIASES + 1),
      `{ me { role ${'__typename '.repeat(MAX_TOKENS)}} }`,
      '{ auditLog(first: -1) { seq } }',
      '{ cloneJobs(first: 100000) { totalCount } }',
      fanOut(30),
    ];
    const expected = ['maxDepth', 'maxAliases', 'maxTokens', 'first', 'first', 'maxCost'];
    for (const [i, query] of documents.entries()) {
      const overWs = await once(client, query);
      const overHttp = await gql(broker.url, adminToken, query);
      expect(shapeOf(overWs.errors)).toEqual(shapeOf(overHttp.errors));
      expect(overWs.errors?.[0].extensions?.rule === expected[i] || overWs.errors?.[0].extensions?.field === expected[i]).toBe(true);
    }
    // And an ordinary operation still runs.
    expect((await once(client, '{ me { role } }')).data).toEqual({ me: { role: 'ADMIN' } });
  });

  it(`runs at most WS_MAX_SUBSCRIPTIONS_PER_CONNECTION (${MAX_OPERATIONS}) operations at once on one connection`, async () => {
    const { client } = open(broker.url, adminToken);
    const query = 'subscription { auditEvents(afterSeq: 0) { seq } }';
    const live = [collect(client, query, {}, 1_000_000, 60_000), collect(client, query, {}, 1_000_000, 60_000)];
    await waitFor(() => live.every((s) => s.received.length > 0), 'both subscriptions to deliver');

    const refused = await once(client, query);
    expect(refused.errors?.map((e) => e.extensions)).toEqual([{ code: 'GRAPHQL_VALIDATION_FAILED', rule: 'maxSubscriptionsPerConnection' }]);

    live[0].stop();
    // Once the server has let the first go, there is room again.
    await waitFor(async () => (await once(client, '{ me { role } }')).data !== undefined, 'a free operation slot');
    live[1].stop();
  });

  it('ends the live subscriptions of a revoked token with 4403 within seconds, and refuses its new connections', async () => {
    const tenantId = (await gqlOk(broker.url, adminToken, '{ me { tenantId } }')).me.tenantId as string;
    const created = await gqlOk(broker.url, adminToken, 'mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { secret token { id } } }', {
      i: { tenantId, role: 'VIEWER', name: 'ws-revoked' },
    });
    const secret = created.createApiToken.secret as string;
    const conn = open(broker.url, secret);
    const sub = collect(conn.client, 'subscription { auditEvents(afterSeq: 0) { seq } }', {}, 1_000_000, 60_000);
    await waitFor(() => sub.received.length > 0, 'the subscription to deliver');
    const before = await counter(broker.url, 'intercloud_ws_closed_total', 'reason="token_revoked"');

    await gqlOk(broker.url, adminToken, 'mutation($id: ID!) { revokeApiToken(id: $id) { id } }', { id: created.createApiToken.token.id });

    expect(await conn.ended()).toEqual({ code: 4403, reason: 'Forbidden: the token is no longer valid' });
    await expect(sub.done).rejects.toBeDefined();
    expect(await counter(broker.url, 'intercloud_ws_closed_total', 'reason="token_revoked"')).toBe(before + 1);
    expect((await open(broker.url, secret).ended()).code).toBe(4403);
  });

  it('closes a client that stops reading as a slow consumer (4413), counted in /metrics', async () => {
    // A tenant whose audit stream holds ~32 MB: far more than the kernel buffers on loopback.
    const reader = await createTenantWithToken(broker.url, adminToken, 'ws-slow-reader', 'VIEWER');
    const stream = `audit:${reader.tenantId}`;
    const { rows } = await pg.query('SELECT last_seq FROM event_streams WHERE stream = $1', [stream]);
    const from = Number(rows[0].last_seq);
    await pg.query(
      `INSERT INTO events (stream, seq, tenant_id, type, payload)
       SELECT $1, s, $2, 'audit', jsonb_build_object('actorTokenId', null, 'action', 'bulk.test', 'objectType', 'Test', 'objectId', s::text,
                                                    'details', jsonb_build_object('pad', repeat('x', 8192)), 'at', now())
       FROM generate_series($3::int + 1, $3::int + 4000) AS s`,
      [stream, reader.tenantId, from],
    );
    await pg.query('UPDATE event_streams SET last_seq = $2 WHERE stream = $1', [stream, from + 4000]);

    // A raw graphql-transport-ws client, to stop reading its socket at will.
    const socket = new WebSocket(wsUrl(broker.url), 'graphql-transport-ws');
    disposers.push(async () => socket.terminate());
    let closed: Closed | undefined;
    socket.on('close', (code, reason) => (closed = { code, reason: String(reason) }));
    const acked = new Promise<void>((resolve) => socket.once('message', () => resolve()));
    await new Promise<void>((resolve) => socket.once('open', () => resolve()));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${reader.token}` } }));
    await acked;
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { auditEvents(afterSeq: 0) { seq details } }' } }));
    socket.pause();

    await waitFor(async () => (await counter(broker.url, 'intercloud_ws_closed_total', 'reason="slow_consumer"')) >= 1, 'the broker to give up on the reader', 60_000);
    socket.resume(); // reads what was buffered, then the close frame
    await waitFor(() => closed !== undefined, 'the close frame');
    expect(closed!.code).toBe(4413);
    expect(closed!.reason).toMatch(/^slow consumer: over 65536 bytes unsent/);
  });

  describe('error masking', () => {
    let brokenDb: TestDatabase;
    let broken: TestBroker;
    let brokenPg: Client;

    beforeAll(async () => {
      brokenDb = await createTestDatabase();
      broken = await startTestBroker(brokenDb.url, { CLONE_CONCURRENCY: '0' });
      brokenPg = new Client({ connectionString: brokenDb.url });
      await brokenPg.connect();
    });

    afterAll(async () => {
      await broken?.stop();
      await brokenPg?.end();
      await brokenDb?.drop();
    });

    const leaks = ['relation', 'does not exist', 'SELECT', 'QueryFailedError', 'stacktrace', 'typeorm', '42P01'];

    it('masks an internal error of a query exactly as over HTTP', async () => {
      await brokenPg.query('DROP TABLE scaling_decisions CASCADE');
      const query = '{ scalingDecisions { id reason } }';
      const overHttp = await gql(broken.url, broken.adminToken, query);
      const overWs = await once(open(broken.url, broken.adminToken).client, query);
      expect(shapeOf(overWs.errors)).toEqual([{ message: 'Internal server error', extensions: { code: 'INTERNAL' }, path: ['scalingDecisions'] }]);
      expect(shapeOf(overWs.errors)).toEqual(shapeOf(overHttp.errors));
      for (const leak of leaks) expect(JSON.stringify(overWs)).not.toContain(leak);
    });

    it('masks a subscription whose event source fails as INTERNAL', async () => {
      await brokenPg.query('DROP TABLE events CASCADE');
      const overWs = await once(open(broken.url, broken.adminToken).client, 'subscription { auditEvents(afterSeq: 0) { seq } }');
      expect(shapeOf(overWs.errors)).toEqual([{ message: 'Internal server error', extensions: { code: 'INTERNAL' } }]);
      for (const leak of leaks) expect(JSON.stringify(overWs)).not.toContain(leak);
    });
  });

  describe('with GRAPHQL_INTROSPECTION=false', () => {
    let closedBroker: TestBroker;

    beforeAll(async () => {
      closedBroker = await startTestBroker(db.url, { GRAPHQL_INTROSPECTION: 'false', CLONE_CONCURRENCY: '0', INTERCLOUD_ADMIN_TOKEN: adminToken });
    });

    afterAll(async () => {
      await closedBroker?.stop();
    });

    it('refuses introspection over WebSocket as over HTTP, and still answers __typename', async () => {
      const { client } = open(closedBroker.url, adminToken);
      for (const query of ['{ __schema { queryType { name } } }', '{ __type(name: "Cloud") { fields { name } } }']) {
        const overWs = await once(client, query);
        expect(overWs.data).toBeUndefined();
        expect(overWs.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
        expect(overWs.errors?.[0].message).toMatch(/introspection/i);
        expect(shapeOf(overWs.errors)).toEqual(shapeOf((await gql(closedBroker.url, adminToken, query)).errors));
      }
      expect((await once(client, '{ __typename }')).data).toEqual({ __typename: 'Query' });
    });
  });

  describe('with WS_MAX_CONNECTIONS_PER_ADDRESS=2', () => {
    let capped: TestBroker;

    beforeAll(async () => {
      capped = await startTestBroker(db.url, { WS_MAX_CONNECTIONS_PER_ADDRESS: '2', CLONE_CONCURRENCY: '0', INTERCLOUD_ADMIN_TOKEN: adminToken });
    });

    afterAll(async () => {
      await capped?.stop();
    });

    it('closes a third connection from the same address with 1013, and admits one again when another has gone', async () => {
      const first = open(capped.url, adminToken);
      const second = open(capped.url, adminToken);
      await waitFor(() => first.connected() && second.connected(), 'two connections');
      const third = open(capped.url, adminToken);
      expect(await third.ended()).toEqual({ code: 1013, reason: 'too many connections from your address (limit 2)' });
      expect(await counter(capped.url, 'intercloud_ws_closed_total', 'reason="too_many_connections"')).toBe(1);

      await first.client.dispose();
      // The server counts the first as gone once its close handshake is done.
      await waitFor(
        async () => {
          const next = open(capped.url, adminToken);
          await waitFor(() => next.connected() || next.closed() !== undefined, 'an answer');
          return next.connected();
        },
        'a free connection slot',
      );
      expect(second.closed()).toBeUndefined();
    });
  });

  describe('with a token check interval of an hour', () => {
    let slowSweep: TestBroker;

    beforeAll(async () => {
      slowSweep = await startTestBroker(db.url, { WS_TOKEN_CHECK_SECONDS: '3600', CLONE_CONCURRENCY: '0', INTERCLOUD_ADMIN_TOKEN: adminToken });
    });

    afterAll(async () => {
      await slowSweep?.stop();
    });

    it('still refuses the next operation of a revoked token on an open connection, and closes it with 4403', async () => {
      const tenantId = (await gqlOk(slowSweep.url, adminToken, '{ me { tenantId } }')).me.tenantId as string;
      const secret = await addToken(slowSweep.url, adminToken, tenantId, 'VIEWER');
      const conn = open(slowSweep.url, secret);
      expect((await once(conn.client, '{ me { role } }')).data).toEqual({ me: { role: 'VIEWER' } });

      const tokenId = (await gqlOk(slowSweep.url, secret, '{ me { tokenId } }')).me.tokenId as string;
      await gqlOk(slowSweep.url, adminToken, 'mutation($id: ID!) { revokeApiToken(id: $id) { id } }', { id: tokenId });

      const refused = await once(conn.client, '{ me { role } }').catch((err: unknown) => ({ closedWith: err }));
      expect('data' in refused && refused.data).toBeFalsy();
      expect(await conn.ended()).toEqual({ code: 4403, reason: 'Forbidden: the token is no longer valid' });
    });
  });
});
