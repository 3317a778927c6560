/**
 * The token hot path across two real broker processes on one PostgreSQL: each replica caches
 * verified tokens, and a revocation on one is pushed (NOTIFY) to the other, which then refuses
 * the token over HTTP and ends its WebSocket connections. Replica B caches for 300 s and checks
 * its WebSocket tokens only hourly, so only the push can make it refuse within the waits below
 * (hang guards, not timing assertions). Also: `lastUsedAt` is written once per minute per token,
 * whatever the number of requests and replicas, counted by a trigger on `api_tokens`.
 * Needs dist/ (npx tsc).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { BrokerProcess, spawnBroker } from '../support/broker-process';
import { createTestDatabase, TestDatabase } from '../support/database';
import { LAB_CLOUD_ENV } from '../support/lab';
import { collect, gql, gqlOk, wsClient } from '../support/graphql';
import { waitFor } from '../support/wait';
import { Client as WsClient } from 'graphql-ws';

const CREATE_TOKEN = 'mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) { secret token { id } } }';
/** Only a pushed revocation gets B to refuse within this (its cache would hold the token for 300 s). */
const PUSH_GUARD_MS = 5_000;

describe('token verification cache across two broker processes', () => {
  const adminToken = `icb_tokens_${crypto.randomBytes(24).toString('base64url')}`;
  let db: TestDatabase;
  let pg: Client;
  let a: BrokerProcess;
  let b: BrokerProcess;
  let tenantId: string;
  const dataDirs: string[] = [];
  const clients: WsClient[] = [];
  let unique = 0;

  const newToken = async (): Promise<{ id: string; secret: string }> => {
    const d = await gqlOk(a.url, adminToken, CREATE_TOKEN, { input: { tenantId, role: 'OPERATOR', name: `cached-${++unique}` } });
    return { id: d.createApiToken.token.id, secret: d.createApiToken.secret };
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    const secretKey = crypto.randomBytes(32).toString('base64');
    const envFor = (extra: Record<string, string>) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-tokens-'));
      dataDirs.push(dir);
      return {
        DATABASE_URL: db.url,
        PORT: '0',
        HOST: '127.0.0.1',
        INTERCLOUD_ADMIN_TOKEN: adminToken,
        INTERCLOUD_SECRET_KEY: secretKey,
        INTERCLOUD_DATA_DIR: dir,
        LOG_LEVEL: 'warn',
        CLONE_CONCURRENCY: '0',
        SCALE_DOWN_CONCURRENCY: '0',
        ...LAB_CLOUD_ENV,
        ...extra,
      };
    };
    [a, b] = await Promise.all([spawnBroker(envFor({})), spawnBroker(envFor({ TOKEN_CACHE_SECONDS: '300', WS_TOKEN_CHECK_SECONDS: '3600' }))]);
    const d = await gqlOk(a.url, adminToken, 'mutation($n: String!) { createTenant(input: { name: $n }) { id } }', { n: 'token-cache' });
    tenantId = d.createTenant.id;
    // Counts the writes of last_used_at, row by row, as the database sees them.
    await pg.query(`
      CREATE TABLE test_token_use_writes (token_id uuid NOT NULL);
      CREATE FUNCTION test_count_token_use() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO test_token_use_writes (token_id) VALUES (NEW.id); RETURN NEW; END $$;
      CREATE TRIGGER test_count_token_use AFTER UPDATE OF last_used_at ON api_tokens FOR EACH ROW
        WHEN (OLD.last_used_at IS DISTINCT FROM NEW.last_used_at) EXECUTE FUNCTION test_count_token_use();`);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => Promise.resolve(c.dispose()).catch(() => undefined)));
    for (const p of [a, b]) await p?.dispose();
    await pg?.end();
    await db?.drop();
    for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a token on replica B soon after it is revoked on replica A, although B had cached it', async () => {
    const token = await newToken();
    // B verifies (and caches) the token.
    expect((await gqlOk(b.url, token.secret, '{ me { role } }')).me.role).toBe('OPERATOR');
    expect((await gqlOk(b.url, token.secret, '{ me { role } }')).me.role).toBe('OPERATOR');

    await gqlOk(a.url, adminToken, 'mutation($id: ID!) { revokeApiToken(id: $id) { id } }', { id: token.id });
    // A, where it was revoked, refuses at once.
    expect((await gql(a.url, token.secret, '{ me { role } }')).status).toBe(401);
    await waitFor(async () => (await gql(b.url, token.secret, '{ me { role } }')).status === 401, 'replica B to refuse the revoked token', PUSH_GUARD_MS);
    const refused = await gql(b.url, token.secret, '{ me { role } }');
    expect(refused.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('ends the WebSocket connections of a token on replica B when it is revoked on replica A (close 4403)', async () => {
    const token = await newToken();
    let closeCode: number | undefined;
    const client = wsClient(b.url, token.secret, (code) => (closeCode = code));
    clients.push(client);
    const sub = collect(client, 'subscription { auditEvents(afterSeq: 0) { seq } }', {}, 1_000_000, 60_000);
    sub.done.catch(() => undefined); // ends with the connection
    // The tenant's audit stream already holds the token's creation: its replay shows the subscription runs.
    await waitFor(() => sub.received.length > 0, 'the subscription to run');

    await gqlOk(a.url, adminToken, 'mutation($id: ID!) { revokeApiToken(id: $id) { id } }', { id: token.id });
    await waitFor(() => closeCode !== undefined, 'replica B to close the revoked token’s connection', PUSH_GUARD_MS);
    expect(closeCode).toBe(4403);
    sub.stop();
  });

  it('refuses a revoked token on B when its listening connection was cut around the revocation, and hears revocations again after', async () => {
    const listeners = async () =>
      Number((await pg.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'intercloud-token-revocations'`)).rows[0].n);
    const revoke = (id: string) => gqlOk(a.url, adminToken, 'mutation($id: ID!) { revokeApiToken(id: $id) { id } }', { id });
    const refusedOnB = (secret: string, what: string) => waitFor(async () => (await gql(b.url, secret, '{ me { role } }')).status === 401, what, PUSH_GUARD_MS);

    const token = await newToken();
    await gqlOk(b.url, token.secret, '{ me { role } }');
    // Both replicas lose their LISTEN; the revocation's NOTIFY may reach nobody.
    await pg.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'intercloud-token-revocations'`);
    await revoke(token.id);
    await refusedOnB(token.secret, 'replica B to refuse a token revoked while it was not listening');

    await waitFor(async () => (await listeners()) === 2, 'both replicas to listen again');
    const later = await newToken();
    await gqlOk(b.url, later.secret, '{ me { role } }');
    await gqlOk(b.url, later.secret, '{ me { role } }');
    await revoke(later.id);
    await refusedOnB(later.secret, 'replica B to refuse a token revoked after it listens again');
  });

  it('writes lastUsedAt once for many requests of one token spread over both replicas', async () => {
    const token = await newToken();
    const writes = async () => Number((await pg.query('SELECT count(*)::int AS n FROM test_token_use_writes WHERE token_id = $1', [token.id])).rows[0].n);
    expect(await writes()).toBe(0);
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 20 }, (_, i) => gqlOk(i % 2 === 0 ? a.url : b.url, token.secret, '{ me { role } }')));
    }
    expect(await writes()).toBe(1);
    const row = await pg.query('SELECT last_used_at FROM api_tokens WHERE id = $1', [token.id]);
    expect(row.rows[0].last_used_at).toBeInstanceOf(Date);
  });
});
