/**
 * Event delivery across two real broker processes sharing one PostgreSQL: mutations on broker
 * A reach a graphql-ws subscriber on broker B (LISTEN/NOTIFY), in order and with dense seqs;
 * a subscriber that reconnects with afterSeq gets exactly what it missed, then live events;
 * graphql-ws authentication; graceful shutdown on SIGTERM. Needs dist/ (npx tsc).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client as WsClient } from 'graphql-ws';
import { Client } from 'pg';
import { BrokerProcess, spawnBroker } from '../support/broker-process';
import { createTestDatabase, TestDatabase } from '../support/database';
import { LAB_CLOUD_ENV } from '../support/lab';
import { collect, gqlError, gqlOk, wsClient } from '../support/graphql';
import { waitFor } from '../support/wait';


/** The close code a graphql-ws connection ends with. */
function closeCodeOf(url: string, token: string | null): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not close the connection')), 15_000);
    // Not disposed here: disposing a client whose connection was refused rejects with the close event.
    wsClient(url, token, (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

interface AuditEvent {
  seq: number;
  action: string;
  objectType: string;
  objectId: string;
}

const AUDIT_EVENTS = 'subscription($afterSeq: Int) { auditEvents(afterSeq: $afterSeq) { seq action objectType objectId } }';

describe('events across two broker processes', () => {
  const adminToken = `icb_events_${crypto.randomBytes(24).toString('base64url')}`;
  let db: TestDatabase;
  let pg: Client;
  let a: BrokerProcess;
  let b: BrokerProcess;
  let adminTenantId: string;
  const dataDirs: string[] = [];
  const clients: WsClient[] = [];
  let unique = 0;

  const open = (url: string, token: string | null) => {
    const c = wsClient(url, token);
    clients.push(c);
    return c;
  };

  /** Mutations on broker A, each returning the audit event it should produce. */
  const createTenant = async () => {
    const d = await gqlOk(a.url, adminToken, 'mutation($n: String!) { createTenant(input: { name: $n }) { id } }', { n: `ev-tenant-${++unique}` });
    return { action: 'tenant.create', objectType: 'Tenant', objectId: d.createTenant.id as string };
  };
  const createVmType = async () => {
    const d = await gqlOk(a.url, adminToken, 'mutation($i: VmTypeInput!) { createVmType(input: $i) { id } }', {
      i: { name: `ev-vmtype-${++unique}`, minInstances: 0, maxInstances: 2 },
    });
    return { action: 'vmType.create', objectType: 'VmType', objectId: d.createVmType.id as string };
  };
  const mutate = async (n: number) => {
    const made = [];
    for (let i = 0; i < n; i++) made.push(i % 2 === 0 ? await createTenant() : await createVmType());
    return made;
  };

  /** The last seq of the admin tenant's audit stream, as stored. */
  const lastSeq = async () =>
    Number((await pg.query('SELECT last_seq FROM event_streams WHERE stream = $1', [`audit:${adminTenantId}`])).rows[0].last_seq);

  beforeAll(async () => {
    db = await createTestDatabase();
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    const secretKey = crypto.randomBytes(32).toString('base64');
    const envFor = () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intercloud-events-'));
      dataDirs.push(dir);
      return {
        DATABASE_URL: db.url,
        PORT: '0',
        HOST: '127.0.0.1',
        INTERCLOUD_ADMIN_TOKEN: adminToken,
        INTERCLOUD_SECRET_KEY: secretKey,
        INTERCLOUD_DATA_DIR: dir,
        LOG_LEVEL: 'warn',
        // Bounds how long a stop may take; the stop itself is asserted by exit code and log.
        SHUTDOWN_GRACE_MS: '3000',
        ...LAB_CLOUD_ENV,
      };
    };
    [a, b] = await Promise.all([spawnBroker(envFor()), spawnBroker(envFor())]);
    expect(a.url).not.toBe(b.url);
    adminTenantId = (await gqlOk(a.url, adminToken, '{ me { tenantId } }')).me.tenantId;
  });

  afterAll(async () => {
    await Promise.all(clients.map(async (c) => c.dispose()).map((p) => p.catch(() => undefined)));
    for (const p of [a, b]) {
      if (p && p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGKILL');
        await p.exited;
      }
    }
    await pg?.end();
    await db?.drop();
    for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('bootstrapped the configured admin token exactly once although two brokers started together', async () => {
    const tokens = await gqlOk(b.url, adminToken, '{ apiTokens { name role } }');
    expect(tokens.apiTokens).toEqual([{ name: 'bootstrap (INTERCLOUD_ADMIN_TOKEN)', role: 'ADMIN' }]);
  });

  it('delivers mutations made on broker A to subscribers on broker B (and A), in order, seq +1 each', async () => {
    const from = await lastSeq();
    // Start one event back: the replayed event proves the subscription is live before we mutate.
    const onB = collect<{ auditEvents: AuditEvent }>(open(b.url, adminToken), AUDIT_EVENTS, { afterSeq: from - 1 }, 7, 20_000);
    const onA = collect<{ auditEvents: AuditEvent }>(open(a.url, adminToken), AUDIT_EVENTS, { afterSeq: from - 1 }, 7, 20_000);
    await waitFor(() => onB.received.length >= 1 && onA.received.length >= 1, 'the replayed event');

    const made = await mutate(6);
    const events = (await onB.done).map((e) => e.auditEvents);

    expect(events.map((e) => e.seq)).toEqual(range(from, 7));
    expect(events.slice(1).map(({ action, objectType, objectId }) => ({ action, objectType, objectId }))).toEqual(made);
    expect((await onA.done).map((e) => e.auditEvents)).toEqual(events);
  });

  it('replays exactly the missed events to a subscriber that reconnects with afterSeq, then streams live ones', async () => {
    const from = await lastSeq();
    const first = open(b.url, adminToken);
    const before = collect<{ auditEvents: AuditEvent }>(first, AUDIT_EVENTS, { afterSeq: from - 1 }, 3, 20_000);
    await waitFor(() => before.received.length >= 1, 'the replayed event');
    await mutate(2);
    const seen = (await before.done).map((e) => e.auditEvents);
    expect(seen.map((e) => e.seq)).toEqual(range(from, 3));
    const lastSeen = seen[seen.length - 1].seq;
    await first.dispose();

    const missed = await mutate(3); // while nobody is connected

    const again = collect<{ auditEvents: AuditEvent }>(open(b.url, adminToken), AUDIT_EVENTS, { afterSeq: lastSeen }, 5, 20_000);
    await waitFor(() => again.received.length >= 3, 'the missed events');
    const live = await mutate(2);
    const events = (await again.done).map((e) => e.auditEvents);

    expect(events.map((e) => e.seq)).toEqual(range(lastSeen + 1, 5));
    expect(events.map(({ action, objectType, objectId }) => ({ action, objectType, objectId }))).toEqual([...missed, ...live]);
  });

  it('auditLog reports the same seq as the audit stream, so a client can resume from it', async () => {
    // An audit entry in another tenant's stream moves the global audit_log id on.
    const other = await gqlOk(a.url, adminToken, 'mutation($n: String!) { createTenant(input: { name: $n }) { id } }', { n: `ev-other-${++unique}` });
    await gqlOk(a.url, adminToken, 'mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { secret } }', {
      i: { tenantId: other.createTenant.id, role: 'VIEWER', name: 'other-viewer' },
    });
    const made = await createVmType();

    const newest = (await gqlOk(b.url, adminToken, '{ auditLog(first: 1) { seq action objectId } }')).auditLog[0];
    expect({ action: newest.action, objectId: newest.objectId }).toEqual({ action: made.action, objectId: made.objectId });
    const replay = collect<{ auditEvents: AuditEvent }>(open(b.url, adminToken), AUDIT_EVENTS, { afterSeq: (await lastSeq()) - 1 }, 1);
    const [streamed] = (await replay.done).map((e) => e.auditEvents);
    expect(streamed.objectId).toBe(made.objectId);
    expect(newest.seq).toBe(streamed.seq);
  });

  describe('graphql-ws authentication', () => {
    it('closes a connection whose connection_init has no authorization with 4401', async () => {
      expect(await closeCodeOf(b.url, null)).toBe(4401);
    });

    it('closes a connection with an unknown token with 4403', async () => {
      expect(await closeCodeOf(b.url, `icb_${crypto.randomBytes(32).toString('base64url')}`)).toBe(4403);
    });

    it('lets a VIEWER token subscribe (and only read)', async () => {
      const viewer = await gqlOk(a.url, adminToken, 'mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { secret token { id } } }', {
        i: { tenantId: adminTenantId, role: 'VIEWER', name: 'events-viewer' },
      });
      const from = await lastSeq();
      const sub = collect<{ auditEvents: AuditEvent }>(open(b.url, viewer.createApiToken.secret), AUDIT_EVENTS, { afterSeq: from - 1 }, 2, 20_000);
      await waitFor(() => sub.received.length >= 1, 'the replayed event');
      const made = await createVmType();
      const events = (await sub.done).map((e) => e.auditEvents);
      expect(events.map((e) => e.seq)).toEqual([from, from + 1]);
      expect(events[0]).toMatchObject({ action: 'apiToken.create', objectId: viewer.createApiToken.token.id });
      expect(events[1]).toMatchObject({ action: made.action, objectId: made.objectId });

      const refused = await gqlError(b.url, viewer.createApiToken.secret, 'mutation { createTenant(input: { name: "viewer-may-not" }) { id } }');
      expect(refused.extensions?.code).toBe('FORBIDDEN');
    });
  });

  describe('shutdown', () => {
    let closeCode: number | undefined;

    it('both brokers exit with code 0 on SIGTERM, closing open subscriptions', async () => {
      const client = wsClient(b.url, adminToken, (code) => (closeCode = code));
      clients.push(client);
      const sub = collect(client, AUDIT_EVENTS, { afterSeq: (await lastSeq()) - 1 }, 2, 20_000);
      await waitFor(() => sub.received.length >= 1, 'an open subscription');
      sub.done.catch(() => undefined);

      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
      const [ea, eb] = await Promise.all([a.exited, b.exited]);
      expect(ea).toEqual({ code: 0, signal: null });
      expect(eb).toEqual({ code: 0, signal: null });
      await waitFor(() => closeCode !== undefined, 'the subscriber to be disconnected');
      expect(closeCode).toBe(1001); // Going away
    });

    it('log no error while stopping', () => {
      for (const p of [a, b]) {
        const errors = p
          .stdout()
          .split('\n')
          .filter((line) => line.startsWith('{') && (JSON.parse(line) as { level: number }).level >= 50);
        expect(errors).toEqual([]);
        expect(p.stderr()).toBe('');
      }
    });
  });
});
